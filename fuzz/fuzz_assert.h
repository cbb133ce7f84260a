
/*
 * A check that stays on in fuzz builds (no NDEBUG games): an invariant
 * broken by some input must crash so that libFuzzer keeps the input.
 */


#ifndef _NGX_HTTP_TFA_RESEND_FUZZ_ASSERT_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_FUZZ_ASSERT_H_INCLUDED_


#include <stdio.h>
#include <stdlib.h>


#define fuzz_assert(cond)                                                    \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,       \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)


#endif /* _NGX_HTTP_TFA_RESEND_FUZZ_ASSERT_H_INCLUDED_ */
