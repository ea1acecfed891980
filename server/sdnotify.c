#include "sdnotify.h"

#ifdef GSLB_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

void gslb_sd_notify(const char *state)
{
#ifdef GSLB_HAVE_SYSTEMD
    sd_notify(0, state);
#else
    (void)state;
#endif
}
