
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The kinds of store a tfa_resend_limit_zone can have: a table the zone
 * directive picks a row from by its store= parameter.  A new kind of store
 * is a row here and the files of its own.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_tfa_resend_conf.h"
#include "ngx_http_tfa_resend_stores.h"
#include "ngx_http_tfa_resend_shm.h"
#include "ngx_http_tfa_resend_redis.h"


/*
 * The kinds of store a zone can have, by its store= parameter: the first
 * row that takes it.  The syntax is what the messages offer, in this
 * order: the plain store and the default first.
 */

static ngx_http_tfa_resend_store_kind_t  ngx_http_tfa_resend_store_kinds[] =
{
    { ngx_string("redis://"), "store=redis://HOST:PORT[/DB]",
      ngx_http_tfa_resend_redis_params, ngx_http_tfa_resend_redis_create,
      ngx_http_tfa_resend_redis_exit_process },

    { ngx_string("shm"), "store=shm",
      NULL, ngx_http_tfa_resend_shm_create, NULL },

    { ngx_string("rediss://"), "store=rediss://HOST:PORT[/DB]",
      ngx_http_tfa_resend_redis_params, ngx_http_tfa_resend_redis_create,
      ngx_http_tfa_resend_redis_exit_process },

    { ngx_string("redis-sentinel://"),
      "store=redis-sentinel://HOST:PORT[,HOST:PORT...]/MASTER_NAME[/DB]",
      ngx_http_tfa_resend_redis_params, ngx_http_tfa_resend_redis_create,
      ngx_http_tfa_resend_redis_exit_process },

    { ngx_string("rediss-sentinel://"),
      "store=rediss-sentinel://HOST:PORT[,HOST:PORT...]/MASTER_NAME[/DB]",
      ngx_http_tfa_resend_redis_params, ngx_http_tfa_resend_redis_create,
      ngx_http_tfa_resend_redis_exit_process },

    { ngx_string("redis-cluster://"),
      "store=redis-cluster://HOST:PORT[,HOST:PORT...]",
      ngx_http_tfa_resend_redis_params, ngx_http_tfa_resend_redis_create,
      ngx_http_tfa_resend_redis_exit_process },

    { ngx_string("rediss-cluster://"),
      "store=rediss-cluster://HOST:PORT[,HOST:PORT...]",
      ngx_http_tfa_resend_redis_params, ngx_http_tfa_resend_redis_create,
      ngx_http_tfa_resend_redis_exit_process },

    { ngx_null_string, NULL, NULL, NULL, NULL }
};


/* a zone without store= */
static ngx_str_t  ngx_http_tfa_resend_store_default =
    ngx_string("store=shm");


const ngx_http_tfa_resend_store_kind_t *
ngx_http_tfa_resend_store_kind(ngx_conf_t *cf, ngx_str_t *value)
{
    u_char                            *p, *last, use[512];
    ngx_str_t                          s;
    ngx_http_tfa_resend_store_kind_t  *kind;

    if (value == NULL) {
        value = &ngx_http_tfa_resend_store_default;
    }

    (void) ngx_http_tfa_resend_conf_param(value, "store=", &s);

    for (kind = ngx_http_tfa_resend_store_kinds; kind->name.len; kind++) {

        if (kind->name.len > 3
            && ngx_strncmp(kind->name.data + kind->name.len - 3, "://", 3)
               == 0)
        {
            /* a scheme */

            if (s.len >= kind->name.len
                && ngx_strncmp(s.data, kind->name.data, kind->name.len) == 0)
            {
                return kind;
            }

            continue;
        }

        if (s.len == kind->name.len
            && ngx_strncmp(s.data, kind->name.data, s.len) == 0)
        {
            return kind;
        }
    }

    p = use;
    last = use + sizeof(use);

    for (kind = ngx_http_tfa_resend_store_kinds; kind->name.len; kind++) {
        if (kind->syntax) {
            p = ngx_slprintf(p, last, "%s%s", p == use ? "" : " or ",
                             kind->syntax);
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid store \"%V\": use %*s", value, p - use, use);

    return NULL;
}


char *
ngx_http_tfa_resend_store_param(ngx_str_t *value)
{
    ngx_uint_t                         j;
    ngx_http_tfa_resend_store_kind_t  *kind;

    for (kind = ngx_http_tfa_resend_store_kinds; kind->name.len; kind++) {

        for (j = 0; kind->params && kind->params[j]; j++) {
            if (ngx_http_tfa_resend_conf_param(value, kind->params[j], NULL))
            {
                return kind->syntax ? kind->syntax : "";
            }
        }
    }

    return NULL;
}


ngx_int_t
ngx_http_tfa_resend_store_check_params(ngx_conf_t *cf,
    const ngx_http_tfa_resend_store_kind_t *kind, ngx_array_t *params)
{
    ngx_str_t   *param;
    ngx_uint_t   i, j;

    if (params == NULL) {
        return NGX_OK;
    }

    param = params->elts;

    for (i = 0; i < params->nelts; i++) {

        for (j = 0; kind->params && kind->params[j]; j++) {
            if (ngx_http_tfa_resend_conf_param(&param[i], kind->params[j],
                                               NULL))
            {
                break;
            }
        }

        if (kind->params == NULL || kind->params[j] == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": only with %s",
                               &param[i],
                               ngx_http_tfa_resend_store_param(&param[i]));
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}
