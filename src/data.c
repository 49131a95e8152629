/* data.c - see include/specsweep/data.h */
#include "specsweep/util.h"
