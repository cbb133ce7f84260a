
/*
 * The jansson arena of the normalizer: see ngx_http_tfa_resend_arena.c.
 * Plain C over jansson, no nginx headers.
 */


#ifndef _NGX_HTTP_TFA_RESEND_ARENA_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_ARENA_H_INCLUDED_


#include <jansson.h>


typedef struct {
    json_malloc_t                   malloc;
    json_free_t                     free;
} ngx_http_tfa_resend_alloc_funcs_t;


/*
 * From enter to leave, jansson allocates from the arena, emptied at enter;
 * leave restores the functions enter saved.  Whatever jansson allocated in
 * between must be freed before leave.
 */
void ngx_http_tfa_resend_arena_enter(ngx_http_tfa_resend_alloc_funcs_t *saved);
void ngx_http_tfa_resend_arena_leave(ngx_http_tfa_resend_alloc_funcs_t *saved);


#endif /* _NGX_HTTP_TFA_RESEND_ARENA_H_INCLUDED_ */
