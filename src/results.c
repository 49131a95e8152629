/* results.c - see include/specsweep/results.h */
#include "specsweep/util.h"
