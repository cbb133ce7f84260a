# The Redis store of the resend limiter over TLS (store=rediss://): nginx's
# own TLS client, the certificate verified against a CA and a name; mutual
# TLS; and each way TLS can fail (a wrong CA, a wrong name, a plain-text
# Redis behind rediss://, no client certificate where Redis wants one) is a
# store error that on_store_error decides, never a plain connection.
#
# The certificates are made by openssl when the file starts (a CA, a
# server certificate for localhost, redis.test and 127.0.0.1, a client
# certificate, and another CA).  Real redis-servers (Debian's, built with
# TLS) are started by this file on free loopback ports, with no plain-text
# port, and stopped after the tests (t/TfaResend.pm).  The mock Infobip API
# (port 1980) writes one line per resend it received to logs/mock.log,
# which GET /mock-log reads back.  A second gateway nginx (port 1982) with
# the same zone runs beside the tested one, for exactness across servers.
#
# Blocks without --- config continue the previous block on the same running
# nginx.  Each block that starts nginx uses its own zones and pinIds, so the
# file also passes with TEST_NGINX_USE_HUP=1.

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib $FindBin::Bin;
use TfaResend;
use File::Temp qw(tempdir);
use Time::HiRes ();

master_on();
workers(2);
worker_connections(256);
no_shuffle();


our $Dir = tempdir(CLEANUP => 1);
our $Tls = tls_files($Dir);

our $TlsPort = free_port();
our $MutualPort = free_port($TlsPort);
our $PlainPort = free_port($TlsPort, $MutualPort);

redis_start_tls($TlsPort, $Tls);
redis_start_tls($MutualPort, $Tls, '--tls-auth-clients', 'yes');
redis_start($PlainPort);

# a Sentinel on TLS only, naming the TLS Redis as the master "tfa3"
our $SentinelPort = free_port($TlsPort, $MutualPort, $PlainPort);
sentinel_start_tls($SentinelPort, $TlsPort, 'tfa3', $Tls);


# the mock Infobip API
our $Mock = mock_infobip(1980);

# the second gateway, with the first block's zone
our $Zone = "tfa_resend_limit_zone zone=tls:1m rate=3/1m redis_timeout=5s "
            . "store=rediss://127.0.0.1:$TlsPort redis_ssl_name=localhost "
            . "redis_ssl_trusted_certificate=$Tls/ca.crt "
            . "on_store_error=reject;";

our $Gateway2 = gateway_start("$Dir/gw2", 1982, 'tls', $Zone);


# ---- configuration: nginx -t ---------------------------------------------

my $z = 'tfa_resend_limit_zone zone=z:1m rate=3/10m';
my $s = "store=rediss://127.0.0.1:$TlsPort";

my @bad = (
    [ "$z store=redis://127.0.0.1 redis_ssl_name=redis.test;",
      qr/invalid parameter "redis_ssl_name=redis.test": only with store=rediss:\/\// ],
    [ "$z $s redis_ssl_verify=maybe;",
      qr/invalid "redis_ssl_verify=maybe": use redis_ssl_verify=on or off/ ],
    [ "$z $s redis_ssl_name=;",
      qr/invalid "redis_ssl_name=": no name/ ],
    [ "$z $s redis_ssl_verify=off redis_ssl_trusted_certificate=$Tls/ca.crt;",
      qr/"redis_ssl_trusted_certificate=\Q$Tls\E\/ca.crt" with redis_ssl_verify=off/ ],
    [ "$z $s redis_ssl_certificate=$Tls/client.crt;",
      qr/"redis_ssl_certificate=\Q$Tls\E\/client.crt" needs redis_ssl_certificate_key=/ ],
    [ "$z $s redis_ssl_trusted_certificate=$Tls/none.crt;",
      # nginx's own words, which 1.27 changed: the file named either way
      qr/(?:SSL_CTX_load_verify_locations\(|cannot load certificate )"\Q$Tls\E\/none.crt"/ ],
    [ "$z $s redis_ssl_certificate=$Tls/client.crt "
      . "redis_ssl_certificate_key=$Tls/server.key;",
      qr/SSL_CTX_use_PrivateKey\(.*\) failed/ ],
    [ "$z store=rediss://;",
      qr/invalid store "store=rediss:\/\/": no host/ ],
    [ "$z store=rediss://127.0.0.1:6379/x;",
      qr/the database is a number/ ],
);

for my $t (@bad) {
    my ($conf, $re) = @$t;
    my ($rc, $out) = nginx_t($conf);
    isnt($rc, 0, "nginx -t fails: $conf");
    like($out, qr/\[emerg\] .*$re/, "a clear [emerg]: $conf") or diag($out);
}

{
    my ($rc, $out) = nginx_t(qq{
        $z store=rediss://127.0.0.1:$TlsPort/2;
        tfa_resend_limit_zone zone=b:1m rate=3/10m
            store=rediss://127.0.0.1:$TlsPort redis_ssl_verify=on
            redis_ssl_trusted_certificate=$Tls/ca.crt
            redis_ssl_name=redis.test
            redis_ssl_certificate=$Tls/client.crt
            redis_ssl_certificate_key=$Tls/client.key;
        tfa_resend_limit_zone zone=c:1m rate=3/10m
            store=rediss://127.0.0.1:$TlsPort redis_ssl_verify=off;
        tfa_resend_limit zone=b;
    });
    is($rc, 0, 'every TLS parameter is accepted') or diag($out);
}


run_tests();

__DATA__

=== TEST 1: over TLS, two gateways with 2 workers each admit exactly 3 of 80 concurrent resends of one pinId
Eighty connections, every other one to this server (1981, 2 workers) and to
the second gateway (1982, 2 workers), written back to back.
--- http_config eval
"$::Zone\n$::Mock" . <<'_EOC_';
    server {
        listen 127.0.0.1:1981 reuseport;

        location /2fa/ {
            tfa_resend on;
            tfa_resend_credentials basic "user:pass";
            tfa_resend_limit zone=tls;
            proxy_pass http://127.0.0.1:1980;
        }
    }
_EOC_
--- config
    location = /mock-log {
        default_type text/plain;
        alias logs/mock.log;
    }
--- init
::wait_port($_) for 1981, 1982;
my $pin = '85000000000000000000000000000001';
Test::More::is(::burst([1981, 1982], "/2fa/2/pin/$pin/resend/voice", 80),
               '200 x3, 429 x77',
               'TEST 1: 3 of 80 concurrent resends admitted by two servers');
Test::More::is(::redis_tls($::TlsPort, $::Tls, 'ZCARD', "tfa:tls:$pin"), 3,
               'TEST 1: three admissions in the TLS Redis');
my $re = qr/limiting resends of pinId "$pin" by zone "tls"/;
my $here = ::count_lines(Test::Nginx::Util::server_root() . '/logs/error.log', $re);
my $there = ::count_lines("$::Dir/gw2/logs/error.log", $re);
Test::More::ok($here > 0 && $there > 0,
               "TEST 1: both servers rejected some ($here, $there)");
--- request
GET /mock-log
--- response_body
85000000000000000000000000000001 200
85000000000000000000000000000001 200
85000000000000000000000000000001 200
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 2: TLS that fails is a store error: a wrong CA, a wrong name, a plain-text Redis; verification off, and the IP address as the name, work
A chain on one nginx: this block starts it; TEST 3 (no --- config) goes on with it.
--- http_config eval
"tfa_resend_limit_zone zone=ca:1m rate=3/1m redis_timeout=2s store=rediss://127.0.0.1:$::TlsPort redis_ssl_trusted_certificate=$::Tls/other-ca.crt on_store_error=reject;\n"
. "tfa_resend_limit_zone zone=nm:1m rate=3/1m redis_timeout=2s store=rediss://127.0.0.1:$::TlsPort redis_ssl_trusted_certificate=$::Tls/ca.crt redis_ssl_name=wrong.example on_store_error=reject;\n"
. "tfa_resend_limit_zone zone=pl:1m rate=3/1m redis_timeout=2s store=rediss://127.0.0.1:$::PlainPort redis_ssl_verify=off on_store_error=local;\n"
. "tfa_resend_limit_zone zone=off:1m rate=3/1m redis_timeout=2s store=rediss://127.0.0.1:$::TlsPort redis_ssl_verify=off on_store_error=reject;\n"
. "tfa_resend_limit_zone zone=ip:1m rate=3/1m redis_timeout=2s store=rediss://127.0.0.1:$::TlsPort redis_ssl_trusted_certificate=$::Tls/ca.crt on_store_error=reject;\n"
. "$::Mock"
--- config
    tfa_resend on;
    tfa_resend_credentials basic "user:pass";

    location /ca/ {
        rewrite ^/ca(/.*)$ $1 break;
        tfa_resend_limit zone=ca;
        proxy_pass http://127.0.0.1:1980;
    }

    location /nm/ {
        rewrite ^/nm(/.*)$ $1 break;
        tfa_resend_limit zone=nm;
        proxy_pass http://127.0.0.1:1980;
    }

    location /pl/ {
        rewrite ^/pl(/.*)$ $1 break;
        tfa_resend_limit zone=pl;
        proxy_pass http://127.0.0.1:1980;
    }

    location /off/ {
        rewrite ^/off(/.*)$ $1 break;
        tfa_resend_limit zone=off;
        proxy_pass http://127.0.0.1:1980;
    }

    location /ip/ {
        rewrite ^/ip(/.*)$ $1 break;
        tfa_resend_limit zone=ip;
        proxy_pass http://127.0.0.1:1980;
    }
--- request eval
[
"POST /ca/2fa/2/pin/85000000000000000000000000000002/resend/voice",
"POST /nm/2fa/2/pin/85000000000000000000000000000003/resend/voice",
"POST /pl/2fa/2/pin/85000000000000000000000000000004/resend/voice",
"POST /off/2fa/2/pin/85000000000000000000000000000005/resend/voice",
"POST /ip/2fa/2/pin/85000000000000000000000000000006/resend/voice",
]
--- error_code eval
[503, 503, 200, 200, 200]
--- response_headers eval
[
"X-RateLimit-Remaining: 0",
"X-RateLimit-Remaining: 0",
"X-RateLimit-Remaining: 2",
"X-RateLimit-Remaining: 2",
"X-RateLimit-Remaining: 2",
]
--- no_error_log
[alert]
[crit]



=== TEST 3: TLS that fails: each error line says why, with what on_store_error does; nothing reached Redis but the good ones
--- init
Test::More::is(::redis_tls($::TlsPort, $::Tls, 'EXISTS',
                           'tfa:off:85000000000000000000000000000005'), 1,
               'TEST 3: verification off: counted in Redis, over TLS');
Test::More::is(::redis_tls($::TlsPort, $::Tls, 'EXISTS',
                           'tfa:ip:85000000000000000000000000000006'), 1,
               'TEST 3: the IP address checked as the name: counted');
Test::More::is(::redis_tls($::TlsPort, $::Tls, 'EXISTS',
                           'tfa:ca:85000000000000000000000000000002'), 0,
               'TEST 3: a wrong CA: nothing in Redis');
Test::More::is(::redis($::PlainPort, 'KEYS', '*')->[0], undef,
               'TEST 3: nothing written to the plain-text Redis');
my $log = Test::Nginx::Util::server_root() . '/logs/error.log';
my $re = qr/tfa_resend_limit_zone "ca": redis at .* failed verification/;
my $before = ::count_lines($log, $re);
my $t0 = Time::HiRes::time();
::resend($ServerPort,
         '/ca/2fa/2/pin/85000000000000000000000000000010/resend/voice')
    for 1 .. 20;
my $elapsed = Time::HiRes::time() - $t0;
my $lines = ::count_lines($log, $re) - $before;
# once in each second of the clock the 20 resends touch, at the most
Test::More::ok($lines >= 1 && $lines <= int($elapsed) + 2,
               sprintf "TEST 3: a failing verification is logged once a second at most (%d lines in %.1fs)",
                       $lines, $elapsed);
--- request
POST /ca/2fa/2/pin/85000000000000000000000000000007/resend/voice
--- error_code: 503
--- error_log eval
[
qr/\[error\] .*tfa_resend_limit_zone "ca": redis at 127\.0\.0\.1:\d+ sent a certificate that failed verification: \(\d+: (?:unable to get local issuer certificate|self-signed certificate in certificate chain)\); on_store_error=reject: resends are refused with 503/,
qr/\[error\] .*tfa_resend_limit_zone "nm": redis at 127\.0\.0\.1:\d+ sent a certificate that does not match "wrong\.example"; on_store_error=reject/,
qr/\[error\] .*tfa_resend_limit_zone "pl": redis at 127\.0\.0\.1:\d+ (?:refused the TLS handshake|closed the connection|did not answer)[^;]*; on_store_error=local: this server's own window decides/,
]
--- no_error_log
[alert]
[crit]



=== TEST 4: mutual TLS: Redis asks for a client certificate; with redis_ssl_certificate= it is admitted, without one it is a store error
A chain on one nginx: this block starts it; TEST 5 (no --- config) goes on with it.
--- http_config eval
"tfa_resend_limit_zone zone=mt:1m rate=3/1m redis_timeout=2s store=rediss://127.0.0.1:$::MutualPort redis_ssl_trusted_certificate=$::Tls/ca.crt redis_ssl_certificate=$::Tls/client.crt redis_ssl_certificate_key=$::Tls/client.key on_store_error=reject;\n"
. "tfa_resend_limit_zone zone=nc:1m rate=3/1m redis_timeout=2s store=rediss://127.0.0.1:$::MutualPort redis_ssl_trusted_certificate=$::Tls/ca.crt on_store_error=reject;\n"
. "$::Mock"
--- config
    tfa_resend on;
    tfa_resend_credentials basic "user:pass";

    location /mt/ {
        rewrite ^/mt(/.*)$ $1 break;
        tfa_resend_limit zone=mt;
        proxy_pass http://127.0.0.1:1980;
    }

    location /nc/ {
        rewrite ^/nc(/.*)$ $1 break;
        tfa_resend_limit zone=nc;
        proxy_pass http://127.0.0.1:1980;
    }
--- request eval
[
"POST /mt/2fa/2/pin/85000000000000000000000000000008/resend/voice",
"POST /mt/2fa/2/pin/85000000000000000000000000000008/resend/voice",
"POST /nc/2fa/2/pin/85000000000000000000000000000009/resend/voice",
]
--- error_code eval
[200, 200, 503]
--- response_headers eval
[
"X-RateLimit-Remaining: 2",
"X-RateLimit-Remaining: 1",
"",
]
--- no_error_log
[alert]
[crit]



=== TEST 5: mutual TLS: the error line gives OpenSSL's reason (the alert "certificate required", or the reset that follows it when the write comes first)
--- init
# a second after TEST 4's line: this resend's is logged too
Time::HiRes::sleep(1.1);
--- request
POST /nc/2fa/2/pin/85000000000000000000000000000011/resend/voice
--- error_code: 503
--- error_log eval
qr/\[error\] .*tfa_resend_limit_zone "nc": redis at 127\.0\.0\.1:\d+ (?:closed the connection|refused the TLS handshake): SSL_\w+\(\) failed \([^;]+\); on_store_error=reject/
--- no_error_log
[alert]
[crit]



=== TEST 6: rediss-sentinel://: TLS to the Sentinel and to the master it names, each verified (the IP addresses, 127.0.0.1, as the names)
--- http_config eval
"tfa_resend_limit_zone zone=ts:1m rate=3/1m redis_timeout=2s store=rediss-sentinel://127.0.0.1:$::SentinelPort/tfa3 redis_ssl_trusted_certificate=$::Tls/ca.crt on_store_error=reject;\n"
. "tfa_resend_limit_zone zone=tw:1m rate=3/1m redis_timeout=2s store=rediss-sentinel://127.0.0.1:$::SentinelPort/tfa3 redis_ssl_trusted_certificate=$::Tls/other-ca.crt on_store_error=reject;\n"
. "$::Mock"
--- config
    tfa_resend on;
    tfa_resend_credentials basic "user:pass";

    location /ts/ {
        rewrite ^/ts(/.*)$ $1 break;
        tfa_resend_limit zone=ts;
        proxy_pass http://127.0.0.1:1980;
    }

    location /tw/ {
        rewrite ^/tw(/.*)$ $1 break;
        tfa_resend_limit zone=tw;
        proxy_pass http://127.0.0.1:1980;
    }
--- init
Test::More::is(scalar ::resend($ServerPort, '/ts/2fa/2/pin/85000000000000000000000000000012/resend/voice'),
               200, 'TEST 6: admitted through a Sentinel, both over TLS');
Test::More::is(::redis_tls($::TlsPort, $::Tls, 'ZCARD',
                           'tfa:ts:85000000000000000000000000000012'), 1,
               'TEST 6: counted on the TLS master');
Test::More::is(scalar ::resend($ServerPort, '/tw/2fa/2/pin/85000000000000000000000000000013/resend/voice'),
               503, 'TEST 6: the Sentinel\'s certificate failing verification: a store error');
Test::More::is(::count_lines(Test::Nginx::Util::server_root() . '/logs/error.log',
                             qr/tfa_resend_limit_zone "tw": redis at "tfa3" \(sentinel\) could not be found: the Sentinel at 127\.0\.0\.1:\d+ sent a certificate that failed verification/),
               1, 'TEST 6: the error line names the Sentinel and the reason');
--- request
POST /ts/2fa/2/pin/85000000000000000000000000000012/resend/voice
--- error_code: 200
--- response_headers
X-RateLimit-Remaining: 1
--- no_error_log
[alert]
[crit]
