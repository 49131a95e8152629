/* config.c - see include/specsweep/config.h */
#include "specsweep/util.h"
