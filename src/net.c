/* net.c - see include/specsweep/net.h */
#include "specsweep/util.h"
