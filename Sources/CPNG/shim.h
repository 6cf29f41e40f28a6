// libpng 1.6's simplified API (png_image_*): it reports errors in the png_image's
// message instead of longjmp-ing out, which Swift could not survive.
#include <png.h>
