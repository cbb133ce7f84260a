
/*
 * jansson's memory while the normalizer parses: an answer's tree is a few
 * dozen small blocks, all freed before the call returns, and malloc() and
 * free() cost more than the parsing itself.  So, for the call only, jansson
 * allocates from a static arena: a bump allocator, reset at each call, free
 * a no-op inside it; what does not fit comes from malloc() as before.  The
 * previous functions are restored when the call ends, so that jansson
 * anywhere else (the request body check, another module) never sees the
 * arena; an nginx worker is single-threaded and runs nothing else during
 * the call.  ASan builds poison the unused arena and leave a red zone
 * after every block.  No nginx headers (see
 * ngx_http_tfa_resend_normalize.h).
 */


#include <stdint.h>
#include <stdlib.h>
#include <jansson.h>

#include "ngx_http_tfa_resend_arena.h"


#if defined(__SANITIZE_ADDRESS__)
#define NGX_HTTP_TFA_RESEND_ASAN  1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NGX_HTTP_TFA_RESEND_ASAN  1
#endif
#endif

#if (NGX_HTTP_TFA_RESEND_ASAN)
#include <sanitizer/asan_interface.h>
#define NGX_HTTP_TFA_RESEND_ARENA_REDZONE  16
#define ngx_http_tfa_resend_arena_poison(p, n)  ASAN_POISON_MEMORY_REGION(p, n)
#define ngx_http_tfa_resend_arena_unpoison(p, n)                              \
    ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define NGX_HTTP_TFA_RESEND_ARENA_REDZONE  0
#define ngx_http_tfa_resend_arena_poison(p, n)
#define ngx_http_tfa_resend_arena_unpoison(p, n)
#endif

/* an error answer with validationErrors fits, a 1 MB one does not */
#define NGX_HTTP_TFA_RESEND_ARENA_SIZE   16384
#define NGX_HTTP_TFA_RESEND_ARENA_ALIGN  16


static void *ngx_http_tfa_resend_arena_alloc(size_t size);
static void ngx_http_tfa_resend_arena_free(void *p);


static union {
    long double                     align_ld;
    long long                       align_ll;
    void                           *align_p;
    unsigned char                   data[NGX_HTTP_TFA_RESEND_ARENA_SIZE];
} ngx_http_tfa_resend_arena;

static size_t  ngx_http_tfa_resend_arena_used;


static void *
ngx_http_tfa_resend_arena_alloc(size_t size)
{
    size_t          need;
    unsigned char  *p;

    if (size <= NGX_HTTP_TFA_RESEND_ARENA_SIZE / 2) {
        need = (size + NGX_HTTP_TFA_RESEND_ARENA_REDZONE
                + NGX_HTTP_TFA_RESEND_ARENA_ALIGN - 1)
               & ~((size_t) NGX_HTTP_TFA_RESEND_ARENA_ALIGN - 1);

        if (need <= NGX_HTTP_TFA_RESEND_ARENA_SIZE
                    - ngx_http_tfa_resend_arena_used)
        {
            p = ngx_http_tfa_resend_arena.data
                + ngx_http_tfa_resend_arena_used;
            ngx_http_tfa_resend_arena_used += need;
            ngx_http_tfa_resend_arena_unpoison(p, size);
            return p;
        }
    }

    return malloc(size);
}


static void
ngx_http_tfa_resend_arena_free(void *p)
{
    uintptr_t  a, start;

    a = (uintptr_t) p;
    start = (uintptr_t) ngx_http_tfa_resend_arena.data;

    if (a - start < NGX_HTTP_TFA_RESEND_ARENA_SIZE) {
        /* the whole arena is reused at the next call */
        return;
    }

    free(p);
}


void
ngx_http_tfa_resend_arena_enter(ngx_http_tfa_resend_alloc_funcs_t *saved)
{
    json_get_alloc_funcs(&saved->malloc, &saved->free);

    ngx_http_tfa_resend_arena_used = 0;
    ngx_http_tfa_resend_arena_poison(ngx_http_tfa_resend_arena.data,
                                     NGX_HTTP_TFA_RESEND_ARENA_SIZE);

    json_set_alloc_funcs(ngx_http_tfa_resend_arena_alloc,
                         ngx_http_tfa_resend_arena_free);
}


void
ngx_http_tfa_resend_arena_leave(ngx_http_tfa_resend_alloc_funcs_t *saved)
{
    json_set_alloc_funcs(saved->malloc, saved->free);

    ngx_http_tfa_resend_arena_poison(ngx_http_tfa_resend_arena.data,
                                     NGX_HTTP_TFA_RESEND_ARENA_SIZE);
}
