/* engine.c - see include/specsweep/engine.h */
#include "specsweep/util.h"
