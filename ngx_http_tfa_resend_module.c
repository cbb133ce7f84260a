
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The module's front door: directives, configuration and registration.
 * The work itself lives in src/, one concern per file.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tfa_resend_module.h"
#include "ngx_http_tfa_resend_credentials.h"
#include "ngx_http_tfa_resend_filter.h"
#include "ngx_http_tfa_resend_handler.h"
#include "ngx_http_tfa_resend_headers.h"
#include "ngx_http_tfa_resend_limit.h"
#include "ngx_http_tfa_resend_metrics.h"
#include "ngx_http_tfa_resend_metrics_page.h"
#include "ngx_http_tfa_resend_variables.h"


static void *ngx_http_tfa_resend_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_tfa_resend_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_tfa_resend_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_tfa_resend_enable_post(ngx_conf_t *cf, void *post,
    void *data);
static ngx_int_t ngx_http_tfa_resend_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_tfa_resend_postconfiguration(ngx_conf_t *cf);


static ngx_conf_post_t  ngx_http_tfa_resend_enable_post_handler = {
    ngx_http_tfa_resend_enable_post
};


static ngx_command_t  ngx_http_tfa_resend_commands[] = {

    { ngx_string("tfa_resend"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tfa_resend_loc_conf_t, enable),
      &ngx_http_tfa_resend_enable_post_handler },

    /* interception and credentials */

    { ngx_string("tfa_resend_pin_pattern"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tfa_resend_pin_pattern,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tfa_resend_pin_case"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tfa_resend_loc_conf_t, pin_case),
      &ngx_http_tfa_resend_pin_cases },

    { ngx_string("tfa_resend_credentials"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_tfa_resend_credentials,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tfa_resend_pass_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_tfa_resend_pass_header,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tfa_resend_max_body_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tfa_resend_loc_conf_t, max_body_size),
      NULL },

    /* limiter */

    { ngx_string("tfa_resend_limit_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_tfa_resend_limit_zone,
      0,
      0,
      NULL },

    { ngx_string("tfa_resend_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tfa_resend_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tfa_resend_limit_status"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tfa_resend_loc_conf_t, limit_status),
      &ngx_http_tfa_resend_limit_status_bounds },

    { ngx_string("tfa_resend_limit_dry_run"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tfa_resend_loc_conf_t, limit_dry_run),
      NULL },

    { ngx_string("tfa_resend_limit_log_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tfa_resend_loc_conf_t, limit_log_level),
      &ngx_http_tfa_resend_limit_log_levels },

    { ngx_string("tfa_resend_limit_refund"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tfa_resend_loc_conf_t, limit_refund),
      NULL },

    /* normalizer */

    { ngx_string("tfa_resend_normalize"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tfa_resend_loc_conf_t, normalize),
      NULL },

    { ngx_string("tfa_resend_status_map"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_tfa_resend_status_map,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tfa_resend_max_response_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tfa_resend_loc_conf_t, max_response_size),
      NULL },

    /* metrics */

    { ngx_string("tfa_resend_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_tfa_resend_metrics_page,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_tfa_resend_module_ctx = {
    ngx_http_tfa_resend_preconfiguration,  /* preconfiguration */
    ngx_http_tfa_resend_postconfiguration, /* postconfiguration */

    ngx_http_tfa_resend_create_main_conf,  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_tfa_resend_create_loc_conf,   /* create location configuration */
    ngx_http_tfa_resend_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_tfa_resend_module = {
    NGX_MODULE_V1,
    &ngx_http_tfa_resend_module_ctx,       /* module context */
    ngx_http_tfa_resend_commands,          /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_tfa_resend_limit_exit_process, /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_tfa_resend_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_tfa_resend_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tfa_resend_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    return mcf;
}


static void *
ngx_http_tfa_resend_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_tfa_resend_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tfa_resend_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->enable = NGX_CONF_UNSET;

    /* interception and credentials */

    /*
     * set by ngx_pcalloc():
     *
     *     conf->credentials = { 0, NULL };
     *     conf->own = 0;
     *     conf->inject = 0;
     */

    conf->pin_pattern = NGX_CONF_UNSET_PTR;
    conf->pin_case = NGX_CONF_UNSET_UINT;
    conf->pass_headers = NGX_CONF_UNSET_PTR;
    conf->max_body_size = NGX_CONF_UNSET_SIZE;

    /* limiter */

    conf->limit_store = NGX_CONF_UNSET_PTR;
    conf->limit_status = NGX_CONF_UNSET_UINT;
    conf->limit_log_level = NGX_CONF_UNSET_UINT;
    conf->limit_dry_run = NGX_CONF_UNSET;
    conf->limit_refund = NGX_CONF_UNSET;

    /* normalizer */

    conf->normalize = NGX_CONF_UNSET;
    conf->max_response_size = NGX_CONF_UNSET_SIZE;

    return conf;
}


static char *
ngx_http_tfa_resend_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_tfa_resend_loc_conf_t  *prev = parent;
    ngx_http_tfa_resend_loc_conf_t  *conf = child;

    /* whether this level names the module itself: where credentials go */

    conf->own = (conf->enable != NGX_CONF_UNSET
                 || conf->credentials.data != NULL);

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    /* interception and credentials */

    if (ngx_http_tfa_resend_merge_intercept_conf(cf, prev, conf)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* limiter */

    ngx_conf_merge_ptr_value(conf->limit_store, prev->limit_store, NULL);
    ngx_conf_merge_uint_value(conf->limit_status, prev->limit_status,
                              NGX_HTTP_TOO_MANY_REQUESTS);
    ngx_conf_merge_uint_value(conf->limit_log_level, prev->limit_log_level,
                              NGX_LOG_ERR);
    ngx_conf_merge_value(conf->limit_dry_run, prev->limit_dry_run, 0);
    ngx_conf_merge_value(conf->limit_refund, prev->limit_refund, 0);

    /* normalizer */

    ngx_conf_merge_value(conf->normalize, prev->normalize, 1);
    ngx_conf_merge_size_value(conf->max_response_size,
                              prev->max_response_size, 64 * 1024);

    /* like nginx's array directives: a level with rows replaces them all */

    if (conf->status_map == NULL) {
        conf->status_map = prev->status_map;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_tfa_resend_enable_post(ngx_conf_t *cf, void *post, void *data)
{
    ngx_flag_t                       *fp = data;
    ngx_http_tfa_resend_main_conf_t  *mcf;

    if (*fp) {
        mcf = ngx_http_conf_get_module_main_conf(cf,
                                                 ngx_http_tfa_resend_module);
        mcf->used = 1;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_tfa_resend_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_tfa_resend_add_variables(cf);
}


static ngx_int_t
ngx_http_tfa_resend_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_tfa_resend_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tfa_resend_module);

    /* metrics: the counters' zone, if a page shows them */

    if (ngx_http_tfa_resend_metrics_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* a configuration that never turns the module on pays nothing for it */

    if (!mcf->used) {
        return NGX_OK;
    }

    /* interception and credentials */

    if (ngx_http_tfa_resend_handler_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* limiter: its header filter runs after the normalizer's */

    if (ngx_http_tfa_resend_limit_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* normalizer */

    return ngx_http_tfa_resend_filter_init(cf);
}
