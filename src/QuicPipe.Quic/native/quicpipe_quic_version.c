/*
 * Versions of the libraries loaded at run time, for `quicpipe --version` and bug reports. ngtcp2_version returns a
 * versioned struct (ngtcp2_info): reading it here keeps that struct out of C#, like every other ngtcp2 type.
 */
#include "quicpipe_quic_internal.h"

const char *qp_ngtcp2_version(void)
{
    const ngtcp2_info *info = ngtcp2_version(0);
    return info != NULL ? info->version_str : NULL;
}

const char *qp_gnutls_version(void)
{
    /* With NULL, gnutls_check_version compares nothing and returns the library's own version string. */
    return gnutls_check_version(NULL);
}
