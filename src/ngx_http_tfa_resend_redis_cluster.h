
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * A Redis Cluster under the Redis store: the slot map (CLUSTER SLOTS),
 * one link per master made when first needed, each command sent to the
 * master of its key's slot and followed through MOVED, ASK, TRYAGAIN and
 * CLUSTERDOWN.  It knows nothing of zones or of the script's answers: the
 * store hands it commands in the protocol's form, one slot each, and gets
 * back the one answer that counts, or NULL.
 */


#ifndef _NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_tfa_resend_redis_slots.h"


/*
 * NGX_OK: a command of this slot can be sent now (the map known, or being
 * asked); NGX_BUSY: the slot's master has not answered since a command
 * timed out; else NGX_DECLINED.  cl->why says why not.
 */
ngx_int_t ngx_http_tfa_resend_redis_cluster_ready(
    ngx_http_tfa_resend_redis_cluster_t *cl, ngx_uint_t slot);

/*
 * A command whose keys (from its 4th argument: EVAL, EVALSHA) are of one
 * slot, in the protocol's form (copied), to that slot's master.  The
 * handler gets its one answer after any redirection, or NULL (cl->why says
 * why then).  NGX_ERROR: not sent (cl->why says why), the handler is not
 * called.
 */
ngx_int_t ngx_http_tfa_resend_redis_cluster_command(
    ngx_http_tfa_resend_redis_cluster_t *cl, u_char *cmd, size_t len,
    ngx_http_tfa_resend_redis_reply_pt handler, void *data);
ngx_int_t ngx_http_tfa_resend_redis_cluster_command_argv(
    ngx_http_tfa_resend_redis_cluster_t *cl, int argc, const char **argv,
    const size_t *argvlen, ngx_http_tfa_resend_redis_reply_pt handler,
    void *data);

/*
 * A command of this slot got no answer within redis_timeout: the slot's
 * master, if a command waits on its link, is taken for silent until it
 * answers (cl->why says so)
 */
void ngx_http_tfa_resend_redis_cluster_timed_out(
    ngx_http_tfa_resend_redis_cluster_t *cl, ngx_uint_t slot);

/* the map is asked again at the next chance (a replica answered READONLY) */
void ngx_http_tfa_resend_redis_cluster_stale(
    ngx_http_tfa_resend_redis_cluster_t *cl);

/* the worker exits: every link goes, the commands are answered NULL */
void ngx_http_tfa_resend_redis_cluster_close(
    ngx_http_tfa_resend_redis_cluster_t *cl);


#endif /* _NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_H_INCLUDED_ */
