
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The shared-memory store.
 *
 * Each tracked pinId is one fixed-size node: an rbtree node keyed by the
 * MurmurHash2 of the pinId (a word at a time, where ngx_crc32_short() goes
 * a nibble at a time; the pinId itself is kept in the node to tell
 * collisions apart), a place in an LRU queue, and the times of its last N
 * admissions, oldest first.  A resend is admitted iff fewer than N of those
 * times lie within the last WINDOW: an exact sliding window, not an
 * estimate.
 *
 * The nodes are not one rbtree but a table of small ones, chosen by the low
 * bits of the hash, with about as many buckets as the zone holds nodes (8
 * bytes each).  In one tree a lookup among a million pinIds walks twenty
 * levels, each a cache miss that also evicts the socket buffers nginx is
 * about to use; in the table it touches a bucket and a node or two.  Trees
 * rather than lists keep pinIds crafted to share a hash at log n a lookup.
 *
 * Times are 32-bit millisecond offsets from a per-node base second of the
 * monotonic clock (ngx_current_msec, the same in every worker), so a node
 * for N <= 4 is 104 bytes on a 64-bit system.  Nodes are carved from whole
 * slab pages (the slab allocator would round 104 up to 128): with the
 * page's own descriptor, 39 nodes per 4096 + 24 bytes, 105.6 bytes a pinId;
 * with its share of the buckets, 110 to 114.
 *
 * The LRU queue is ordered by last admission (a rejected resend does not
 * move its node), so its tail is the first node whose window passes:
 * reclaiming walks the tail and stops at the first live node.  A node that
 * still holds an admission in its window is never reclaimed; with none to
 * reclaim and no page left, a new pinId is refused (NGX_DECLINED).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_sha1.h>

#include "ngx_http_tfa_resend_shm.h"


#define NGX_HTTP_TFA_RESEND_SHM_DIGEST      0xff
#define NGX_HTTP_TFA_RESEND_SHM_DIGEST_LEN  20

#define ngx_http_tfa_resend_shm_key_len(code)                                 \
    ((code) == NGX_HTTP_TFA_RESEND_SHM_DIGEST                                 \
     ? NGX_HTTP_TFA_RESEND_SHM_DIGEST_LEN : (code))


typedef struct {
    u_char                              color;
    u_char                              len;      /* key bytes, or DIGEST */
    u_char                              count;    /* admissions in times[] */
    u_char                              dummy;
    uint32_t                            base;     /* s, monotonic clock */
    ngx_queue_t                         queue;    /* LRU by last admission */
    u_char                              key[NGX_HTTP_TFA_RESEND_SHM_KEY_LEN];
    uint32_t                            times[1]; /* [limit] ms after base,
                                                     oldest first */
} ngx_http_tfa_resend_shm_node_t;


typedef struct ngx_http_tfa_resend_shm_free_s  ngx_http_tfa_resend_shm_free_t;

struct ngx_http_tfa_resend_shm_free_s {
    ngx_http_tfa_resend_shm_free_t     *next;
};


typedef struct {
    ngx_rbtree_node_t                 **buckets;  /* roots of the trees */
    ngx_uint_t                          mask;     /* buckets - 1 */
    ngx_rbtree_node_t                   sentinel; /* shared by the trees */
    ngx_queue_t                         queue;
    ngx_http_tfa_resend_shm_free_t     *free;     /* carved, unused nodes */
    ngx_uint_t                          limit;    /* N: the node layout */
    size_t                              node_size;
    ngx_uint_t                          nodes;    /* tracked pinIds */
} ngx_http_tfa_resend_shm_shctx_t;


typedef struct {
    ngx_http_tfa_resend_shm_shctx_t    *sh;
    ngx_slab_pool_t                    *shpool;
    size_t                              node_size;
} ngx_http_tfa_resend_shm_t;


static ngx_int_t ngx_http_tfa_resend_shm_admit(
    ngx_http_tfa_resend_store_t *store, ngx_http_tfa_resend_store_op_t *op);
static ngx_int_t ngx_http_tfa_resend_shm_refund(
    ngx_http_tfa_resend_store_t *store, ngx_http_tfa_resend_store_op_t *op);
static ngx_int_t ngx_http_tfa_resend_shm_inspect(
    ngx_http_tfa_resend_store_t *store, ngx_http_tfa_resend_store_op_t *op);
static ngx_uint_t ngx_http_tfa_resend_shm_buckets(ngx_shm_zone_t *shm_zone,
    size_t node_size);


const ngx_http_tfa_resend_store_type_t  ngx_http_tfa_resend_shm_store = {
    ngx_string("shm"),
    ngx_http_tfa_resend_shm_admit,
    ngx_http_tfa_resend_shm_refund,
    ngx_http_tfa_resend_shm_inspect
};


static size_t
ngx_http_tfa_resend_shm_node_size(ngx_uint_t limit)
{
    size_t  size;

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_http_tfa_resend_shm_node_t, times)
           + limit * sizeof(uint32_t);

    return ngx_align(size, NGX_ALIGNMENT);
}


ngx_int_t
ngx_http_tfa_resend_shm_create(ngx_conf_t *cf,
    ngx_http_tfa_resend_store_t *store, ngx_str_t *value,
    ngx_array_t *params)
{
    ngx_http_tfa_resend_shm_t  *shm;

    shm = ngx_pcalloc(cf->pool, sizeof(ngx_http_tfa_resend_shm_t));
    if (shm == NULL) {
        return NGX_ERROR;
    }

    shm->node_size = ngx_http_tfa_resend_shm_node_size(store->limit);

    store->type = &ngx_http_tfa_resend_shm_store;
    store->data = shm;
    store->local = store;

    store->shm_zone->init = ngx_http_tfa_resend_shm_init_zone;
    store->shm_zone->data = store;

    return NGX_OK;
}


static void
ngx_http_tfa_resend_shm_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    size_t                           len;
    ngx_int_t                        rc;
    ngx_rbtree_node_t              **p;
    ngx_http_tfa_resend_shm_node_t  *sn, *snt;

    for ( ;; ) {

        if (node->key < temp->key) {

            p = &temp->left;

        } else if (node->key > temp->key) {

            p = &temp->right;

        } else { /* node->key == temp->key */

            sn = (ngx_http_tfa_resend_shm_node_t *) &node->color;
            snt = (ngx_http_tfa_resend_shm_node_t *) &temp->color;

            if (sn->len != snt->len) {
                rc = (ngx_int_t) sn->len - (ngx_int_t) snt->len;

            } else {
                len = ngx_http_tfa_resend_shm_key_len(sn->len);
                rc = ngx_memcmp(sn->key, snt->key, len);
            }

            p = (rc < 0) ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


ngx_int_t
ngx_http_tfa_resend_shm_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_tfa_resend_store_t  *ostore = data;

    size_t                        len;
    ngx_uint_t                    i, n;
    ngx_http_tfa_resend_shm_t    *shm, *oshm;
    ngx_http_tfa_resend_store_t  *store;

    /* the zone's own store may be a remote one: its local window is here */

    store = ((ngx_http_tfa_resend_store_t *) shm_zone->data)->local;
    shm = store->data;

    if (ostore) {
        ostore = ostore->local;
        oshm = ostore->data;

        /*
         * The same name and size as before: nginx kept the memory, and the
         * workers of the previous configuration still use it.  Its nodes
         * have room for the previous N times; a different N cannot reuse
         * them, and the memory cannot be wiped under the old workers.
         */

        if (ostore->limit != store->limit) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "tfa_resend_limit_zone \"%V\" has rate=%ui/%Mms "
                          "while previously it had rate=%ui/%Mms: a zone "
                          "cannot change its number of resends on reload; "
                          "give it a new name or size to start afresh",
                          &shm_zone->shm.name, store->limit, store->window,
                          ostore->limit, ostore->window);
            return NGX_ERROR;
        }

        shm->sh = oshm->sh;
        shm->shpool = oshm->shpool;

        return NGX_OK;
    }

    shm->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm->sh = shm->shpool->data;

        if (shm->sh->limit != store->limit) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "tfa_resend_limit_zone \"%V\" has rate=%ui/... "
                          "while its shared memory has room for %ui",
                          &shm_zone->shm.name, store->limit,
                          shm->sh->limit);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    shm->sh = ngx_slab_alloc(shm->shpool,
                             sizeof(ngx_http_tfa_resend_shm_shctx_t));
    if (shm->sh == NULL) {
        return NGX_ERROR;
    }

    shm->shpool->data = shm->sh;

    ngx_rbtree_sentinel_init(&shm->sh->sentinel);

    n = ngx_http_tfa_resend_shm_buckets(shm_zone, shm->node_size);

    shm->sh->buckets = ngx_slab_alloc(shm->shpool,
                                      n * sizeof(ngx_rbtree_node_t *));
    if (shm->sh->buckets == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        shm->sh->buckets[i] = &shm->sh->sentinel;
    }

    shm->sh->mask = n - 1;

    ngx_queue_init(&shm->sh->queue);

    shm->sh->free = NULL;
    shm->sh->limit = store->limit;
    shm->sh->node_size = shm->node_size;
    shm->sh->nodes = 0;

    len = sizeof(" in tfa_resend_limit_zone \"\"") + shm_zone->shm.name.len;

    shm->shpool->log_ctx = ngx_slab_alloc(shm->shpool, len);
    if (shm->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shm->shpool->log_ctx, " in tfa_resend_limit_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is reported by the limiter, once per refused request */

    shm->shpool->log_nomem = 0;

    return NGX_OK;
}


/* a power of two, no more than the nodes the zone's pages can hold */

static ngx_uint_t
ngx_http_tfa_resend_shm_buckets(ngx_shm_zone_t *shm_zone, size_t node_size)
{
    ngx_uint_t  nodes, n;

    nodes = shm_zone->shm.size / ngx_pagesize * (ngx_pagesize / node_size);

    for (n = 1; n * 2 <= nodes; n *= 2) { /* void */ }

    return n;
}


/*
 * Runs nginx's ngx_rbtree_insert() or ngx_rbtree_delete() on the tree of
 * the node's bucket: an ngx_rbtree_t made for the call, since either may
 * change the tree's root, which goes back into the bucket.
 */

static void
ngx_http_tfa_resend_shm_update(ngx_http_tfa_resend_shm_shctx_t *sh,
    ngx_rbtree_node_t *node,
    void (*update)(ngx_rbtree_t *tree, ngx_rbtree_node_t *node))
{
    ngx_rbtree_t         tree;
    ngx_rbtree_node_t  **root;

    root = &sh->buckets[(uint32_t) node->key & sh->mask];

    tree.root = *root;
    tree.sentinel = &sh->sentinel;
    tree.insert = ngx_http_tfa_resend_shm_rbtree_insert_value;

    update(&tree, node);

    *root = tree.root;
}


static ngx_uint_t
ngx_http_tfa_resend_shm_key(ngx_str_t *key, u_char *buf)
{
    ngx_sha1_t  sha1;

    if (key->len <= NGX_HTTP_TFA_RESEND_SHM_KEY_LEN) {
        ngx_memcpy(buf, key->data, key->len);
        return key->len;
    }

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, key->data, key->len);
    ngx_sha1_final(buf, &sha1);

    return NGX_HTTP_TFA_RESEND_SHM_DIGEST;
}


static ngx_inline uint64_t
ngx_http_tfa_resend_shm_time(ngx_http_tfa_resend_shm_node_t *sn, ngx_uint_t i)
{
    return (uint64_t) sn->base * 1000 + sn->times[i];
}


static ngx_inline ngx_http_tfa_resend_shm_node_t *
ngx_http_tfa_resend_shm_node(ngx_rbtree_node_t *node)
{
    return (ngx_http_tfa_resend_shm_node_t *) &node->color;
}


static ngx_inline ngx_rbtree_node_t *
ngx_http_tfa_resend_shm_rbnode(ngx_http_tfa_resend_shm_node_t *sn)
{
    return (ngx_rbtree_node_t *)
               ((u_char *) sn - offsetof(ngx_rbtree_node_t, color));
}


static ngx_http_tfa_resend_shm_node_t *
ngx_http_tfa_resend_shm_lookup(ngx_http_tfa_resend_shm_t *shm,
    uint32_t hash, u_char *key, ngx_uint_t code)
{
    ngx_int_t                        rc;
    ngx_rbtree_node_t               *node, *sentinel;
    ngx_http_tfa_resend_shm_node_t  *sn;

    node = shm->sh->buckets[hash & shm->sh->mask];
    sentinel = &shm->sh->sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        /* hash == node->key */

        sn = ngx_http_tfa_resend_shm_node(node);

        if (code != sn->len) {
            rc = (ngx_int_t) code - (ngx_int_t) sn->len;

        } else {
            rc = ngx_memcmp(key, sn->key,
                            ngx_http_tfa_resend_shm_key_len(code));
        }

        if (rc == 0) {
            return sn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/* drops the admissions whose window has passed; returns how many are left */

static ngx_uint_t
ngx_http_tfa_resend_shm_prune(ngx_http_tfa_resend_shm_node_t *sn,
    uint64_t now, uint64_t window)
{
    ngx_uint_t  i;

    for (i = 0; i < sn->count; i++) {

        /* a time ahead of ours (another worker's clock) is in the window */

        if (now < ngx_http_tfa_resend_shm_time(sn, i) + window) {
            break;
        }
    }

    if (i) {
        ngx_memmove(&sn->times[0], &sn->times[i],
                    (sn->count - i) * sizeof(uint32_t));
        sn->count -= i;
    }

    return sn->count;
}


/* records an admission at now (never before the last one); returns its time */

static uint64_t
ngx_http_tfa_resend_shm_append(ngx_http_tfa_resend_shm_node_t *sn,
    uint64_t now)
{
    uint64_t    t, last, base;
    ngx_uint_t  i;

    if (sn->count == 0) {
        sn->base = (uint32_t) (now / 1000);

    } else {
        last = ngx_http_tfa_resend_shm_time(sn, sn->count - 1);

        if (now < last) {
            now = last;
        }
    }

    if (now - (uint64_t) sn->base * 1000 > 0xffffffff) {

        /*
         * 49 days after the base: move it up to the oldest admission, which
         * is in the window (at most 30 days), so every offset fits again
         */

        base = ngx_http_tfa_resend_shm_time(sn, 0) / 1000;

        for (i = 0; i < sn->count; i++) {
            t = ngx_http_tfa_resend_shm_time(sn, i);
            sn->times[i] = (uint32_t) (t - base * 1000);
        }

        sn->base = (uint32_t) base;
    }

    sn->times[sn->count++] = (uint32_t) (now - (uint64_t) sn->base * 1000);

    return now;
}


static void
ngx_http_tfa_resend_shm_free_node(ngx_http_tfa_resend_shm_t *shm,
    ngx_http_tfa_resend_shm_node_t *sn)
{
    ngx_rbtree_node_t               *node;
    ngx_http_tfa_resend_shm_free_t  *f;

    ngx_queue_remove(&sn->queue);

    node = ngx_http_tfa_resend_shm_rbnode(sn);

    ngx_http_tfa_resend_shm_update(shm->sh, node, ngx_rbtree_delete);

    f = (ngx_http_tfa_resend_shm_free_t *) node;
    f->next = shm->sh->free;
    shm->sh->free = f;

    shm->sh->nodes--;
}


/* reclaims up to n nodes whose whole window has passed, from the LRU tail */

static void
ngx_http_tfa_resend_shm_expire(ngx_http_tfa_resend_shm_t *shm,
    uint64_t now, uint64_t window, ngx_uint_t n)
{
    ngx_queue_t                     *q;
    ngx_http_tfa_resend_shm_node_t  *sn;

    while (n--) {

        if (ngx_queue_empty(&shm->sh->queue)) {
            return;
        }

        q = ngx_queue_last(&shm->sh->queue);

        sn = ngx_queue_data(q, ngx_http_tfa_resend_shm_node_t, queue);

        if (sn->count
            && now < ngx_http_tfa_resend_shm_time(sn, sn->count - 1) + window)
        {
            /*
             * the least recently admitted pinId is live: so is every
             * other one (but for the few a refund made older)
             */

            return;
        }

        ngx_http_tfa_resend_shm_free_node(shm, sn);
    }
}


static ngx_rbtree_node_t *
ngx_http_tfa_resend_shm_alloc_node(ngx_http_tfa_resend_shm_t *shm,
    uint64_t now, uint64_t window)
{
    u_char                          *p, *last;
    ngx_http_tfa_resend_shm_free_t  *f;

    /*
     * The dead go first, two at a time as in limit_req, but only once the
     * free nodes are used up: a carved page is never given back, and a look
     * at the LRU tail for every new pinId is a cache miss for nothing.
     */

    if (shm->sh->free == NULL) {
        ngx_http_tfa_resend_shm_expire(shm, now, window, 2);
    }

    if (shm->sh->free == NULL) {

        p = ngx_slab_alloc_locked(shm->shpool, ngx_pagesize);
        if (p == NULL) {
            return NULL;
        }

        /* carve the page: nodes of a size the slab sizes would round up */

        last = p + ngx_pagesize - shm->sh->node_size;

        for ( /* void */ ; p <= last; p += shm->sh->node_size) {
            f = (ngx_http_tfa_resend_shm_free_t *) p;
            f->next = shm->sh->free;
            shm->sh->free = f;
        }
    }

    f = shm->sh->free;
    shm->sh->free = f->next;

    return (ngx_rbtree_node_t *) f;
}


static ngx_int_t
ngx_http_tfa_resend_shm_admit(ngx_http_tfa_resend_store_t *store,
    ngx_http_tfa_resend_store_op_t *op)
{
    u_char                           key[NGX_HTTP_TFA_RESEND_SHM_KEY_LEN];
    uint32_t                         hash;
    uint64_t                         now, window;
    ngx_int_t                        rc;
    ngx_uint_t                       code, limit;
    ngx_rbtree_node_t               *node;
    ngx_http_tfa_resend_shm_t       *shm;
    ngx_http_tfa_resend_shm_node_t  *sn;
#if (NGX_DEBUG)
    ngx_uint_t                       nodes;
#endif

    shm = store->data;

    now = op->now;
    window = store->window;

    hash = ngx_murmur_hash2(op->key.data, op->key.len);
    code = ngx_http_tfa_resend_shm_key(&op->key, key);

    op->serial = 0;

    ngx_shmtx_lock(&shm->shpool->mutex);

    limit = shm->sh->limit;

    sn = ngx_http_tfa_resend_shm_lookup(shm, hash, key, code);

    if (sn) {

        if (ngx_http_tfa_resend_shm_prune(sn, now, window) >= limit) {

            op->remaining = 0;
            op->retry_after = (ngx_msec_t)
                (ngx_http_tfa_resend_shm_time(sn, 0) + window - now);

            rc = NGX_BUSY;
            goto done;
        }

        op->stamp = ngx_http_tfa_resend_shm_append(sn, now);
        op->remaining = limit - sn->count;

        ngx_queue_remove(&sn->queue);
        ngx_queue_insert_head(&shm->sh->queue, &sn->queue);

        rc = NGX_OK;
        goto done;
    }

    node = ngx_http_tfa_resend_shm_alloc_node(shm, now, window);

    if (node == NULL) {
        op->remaining = 0;
        op->retry_after = 0;

        rc = NGX_DECLINED;
        goto done;
    }

    node->key = hash;

    sn = ngx_http_tfa_resend_shm_node(node);

    sn->len = (u_char) code;
    sn->count = 0;
    sn->dummy = 0;

    ngx_memcpy(sn->key, key, ngx_http_tfa_resend_shm_key_len(code));

    ngx_http_tfa_resend_shm_update(shm->sh, node, ngx_rbtree_insert);
    ngx_queue_insert_head(&shm->sh->queue, &sn->queue);

    shm->sh->nodes++;

    op->stamp = ngx_http_tfa_resend_shm_append(sn, now);
    op->remaining = limit - 1;

    rc = NGX_OK;

done:

#if (NGX_DEBUG)
    /* read under the lock, logged after it */
    nodes = shm->sh->nodes;
#endif

    ngx_shmtx_unlock(&shm->shpool->mutex);

    ngx_log_debug6(NGX_LOG_DEBUG_HTTP, op->log, 0,
                   "tfa_resend_limit admit \"%V\" in \"%V\": %i, "
                   "remaining %ui, retry after %Mms, %ui tracked",
                   &op->key, &store->name, rc, op->remaining,
                   rc == NGX_BUSY ? op->retry_after : 0, nodes);

    op->rc = rc;

    return rc;
}


static ngx_int_t
ngx_http_tfa_resend_shm_refund(ngx_http_tfa_resend_store_t *store,
    ngx_http_tfa_resend_store_op_t *op)
{
    u_char                           key[NGX_HTTP_TFA_RESEND_SHM_KEY_LEN];
    uint32_t                         hash;
    ngx_uint_t                       code, i;
    ngx_http_tfa_resend_shm_t       *shm;
    ngx_http_tfa_resend_shm_node_t  *sn;

    shm = store->data;

    hash = ngx_murmur_hash2(op->key.data, op->key.len);
    code = ngx_http_tfa_resend_shm_key(&op->key, key);

    ngx_shmtx_lock(&shm->shpool->mutex);

    sn = ngx_http_tfa_resend_shm_lookup(shm, hash, key, code);

    if (sn == NULL) {
        /* reclaimed: its window has passed, nothing to take back */
        goto done;
    }

    /* this request's own admission, the newest first */

    for (i = sn->count; i-- > 0; /* void */) {

        if (ngx_http_tfa_resend_shm_time(sn, i) == op->stamp) {

            ngx_memmove(&sn->times[i], &sn->times[i + 1],
                        (sn->count - i - 1) * sizeof(uint32_t));
            sn->count--;

            break;
        }
    }

    /*
     * Nothing is kept for what was taken back: a pinId left with no
     * admission in its window goes at once, so that resends of pinIds the
     * upstream does not know (refused, refunded) cannot fill the zone.
     */

    if (ngx_http_tfa_resend_shm_prune(sn, op->now, store->window) == 0) {
        ngx_http_tfa_resend_shm_free_node(shm, sn);
    }

done:

    ngx_shmtx_unlock(&shm->shpool->mutex);

    op->rc = NGX_OK;

    return NGX_OK;
}


static ngx_int_t
ngx_http_tfa_resend_shm_inspect(ngx_http_tfa_resend_store_t *store,
    ngx_http_tfa_resend_store_op_t *op)
{
    u_char                           key[NGX_HTTP_TFA_RESEND_SHM_KEY_LEN];
    uint32_t                         hash;
    uint64_t                         now, window;
    ngx_uint_t                       code, i, live;
    ngx_http_tfa_resend_shm_t       *shm;
    ngx_http_tfa_resend_shm_node_t  *sn;

    shm = store->data;

    now = op->now;
    window = store->window;

    hash = ngx_murmur_hash2(op->key.data, op->key.len);
    code = ngx_http_tfa_resend_shm_key(&op->key, key);

    op->retry_after = 0;

    ngx_shmtx_lock(&shm->shpool->mutex);

    sn = ngx_http_tfa_resend_shm_lookup(shm, hash, key, code);

    live = 0;

    if (sn) {
        for (i = 0; i < sn->count; i++) {
            if (now < ngx_http_tfa_resend_shm_time(sn, i) + window) {
                live = sn->count - i;
                break;
            }
        }

        if (live >= shm->sh->limit) {
            op->retry_after = (ngx_msec_t)
                (ngx_http_tfa_resend_shm_time(sn, sn->count - live) + window
                 - now);
        }
    }

    op->remaining = live < shm->sh->limit ? shm->sh->limit - live : 0;

    ngx_shmtx_unlock(&shm->shpool->mutex);

    op->rc = NGX_OK;

    return NGX_OK;
}


void
ngx_http_tfa_resend_shm_usage(ngx_http_tfa_resend_store_t *store,
    ngx_uint_t *pins, size_t *bytes)
{
    ngx_http_tfa_resend_shm_t  *shm;

    shm = store->data;

    ngx_shmtx_lock(&shm->shpool->mutex);

    *pins = shm->sh->nodes;
    *bytes = shm->shpool->pfree * ngx_pagesize;

    ngx_shmtx_unlock(&shm->shpool->mutex);
}
