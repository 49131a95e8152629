/* train.c - see include/specsweep/train.h */
#include "specsweep/util.h"
