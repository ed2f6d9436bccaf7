// libelf (elfutils) and the gelf class-independent accessors.
#include <libelf.h>
#include <gelf.h>
