/* main.c - the command line only; everything else is the library. */
#include <stdio.h>
int main(void) { puts("specsweep"); return 0; }
