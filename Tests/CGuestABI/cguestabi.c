#include "cguestabi.h"
