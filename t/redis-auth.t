# The Redis store of the resend limiter: authentication and the database.
# redis_password_file (its [emerg]s; the right password, a wrong one, none,
# and the password never logged), a database other than 0, and a Redis
# that forgot the script (SCRIPT FLUSH).
#
# A real redis-server (Debian's) is started by this file on a free loopback
# port before the tests and stopped after them (t/TfaResend.pm).  The mock
# Infobip API (port 1980, t/TfaResend.pm) writes one line per resend it
# received to logs/mock.log, which GET /mock-log reads back.
#
# Blocks without --- config continue the previous block on the same running
# nginx: that is how the sequences are written.  The first block of each
# such chain says which blocks go on with it.  Each block that starts nginx
# uses its own zones and pinIds, so the file also passes with
# TEST_NGINX_USE_HUP=1.
#
# A second redis-server, with requirepass, for the password tests.

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib $FindBin::Bin;
use TfaResend;
use File::Temp qw(tempdir);

master_on();
workers(2);
worker_connections(256);
no_shuffle();


our $Dir = tempdir(CLEANUP => 1);
our $RedisPort = free_port();
our $AuthPort = free_port($RedisPort);

redis_start($RedisPort);
redis_start($AuthPort, '--requirepass', 'Good-Pass-7f3a');

our $GoodPass = secret_file($Dir, 'good.pass', "Good-Pass-7f3a\n");
our $BadPass = secret_file($Dir, 'bad.pass', "Bad-Pass-91c2\r\n");
our $EmptyPass = secret_file($Dir, 'empty.pass', "\n");
our $TwoLines = secret_file($Dir, 'two.pass', "Line-One-5e1\nLine-Two-0b8\n");


# the mock Infobip API: X-Mock-Status: 500 makes it fail
our $Mock = mock_infobip(1980);


# ---- configuration: nginx -t ---------------------------------------------

my $z = 'tfa_resend_limit_zone zone=z:1m rate=3/10m';

my @bad = (
    [ "$z store=redis://127.0.0.1 redis_password_file=$Dir/none.pass;",
      qr/redis_password_file: open\(\) "\Q$Dir\E\/none.pass" failed/ ],
    [ "$z store=redis://127.0.0.1 redis_password_file=$EmptyPass;",
      qr/redis_password_file "\Q$EmptyPass\E" is empty/ ],
    [ "$z store=redis://127.0.0.1 redis_password_file=$TwoLines;",
      qr/redis_password_file "\Q$TwoLines\E" must hold one line/ ],
    [ "$z store=redis://127.0.0.1 redis_password_file=;",
      qr/invalid "redis_password_file=": no file name/ ],
);

for my $t (@bad) {
    my ($conf, $re) = @$t;
    my ($rc, $out) = nginx_t($conf);
    isnt($rc, 0, "nginx -t fails: $conf");
    like($out, qr/\[emerg\] .*$re/, "a clear [emerg]: $conf") or diag($out);
    unlike($out, qr/Line-One|Line-Two/, "no password in the output: $conf");
}


run_tests();

__DATA__

=== TEST 1: a password: the right one from redis_password_file works; a wrong one, or none, is the store error path, and the password is never logged
A chain on one nginx: this block starts it; TEST 2 (no --- config) goes on with it.
--- http_config eval
"tfa_resend_limit_zone zone=pg:1m rate=2/1m redis_timeout=5s store=redis://127.0.0.1:$::AuthPort redis_password_file=$::GoodPass on_store_error=reject;\n"
. "tfa_resend_limit_zone zone=pb:1m rate=2/1m redis_timeout=5s store=redis://127.0.0.1:$::AuthPort redis_password_file=$::BadPass on_store_error=reject;\n"
. "tfa_resend_limit_zone zone=pn:1m rate=2/1m redis_timeout=5s store=redis://127.0.0.1:$::AuthPort on_store_error=reject;\n"
. "$::Mock"
--- config
    tfa_resend on;
    tfa_resend_credentials basic "user:pass";

    location /good/ {
        rewrite ^/good(/.*)$ $1 break;
        tfa_resend_limit zone=pg;
        proxy_pass http://127.0.0.1:1980;
    }

    location /bad/ {
        rewrite ^/bad(/.*)$ $1 break;
        tfa_resend_limit zone=pb;
        proxy_pass http://127.0.0.1:1980;
    }

    location /none/ {
        rewrite ^/none(/.*)$ $1 break;
        tfa_resend_limit zone=pn;
        proxy_pass http://127.0.0.1:1980;
    }
--- request eval
[
"POST /good/2fa/2/pin/8E000000000000000000000000000001/resend/voice",
"POST /bad/2fa/2/pin/8E000000000000000000000000000002/resend/voice",
"POST /none/2fa/2/pin/8E000000000000000000000000000003/resend/voice",
]
--- error_code eval
[200, 503, 503]
--- response_headers eval
[
"X-RateLimit-Remaining: 1",
"",
"",
]



=== TEST 2: a password: the admission is in the Redis that asked for it
--- init
Test::More::is(::redis([$::AuthPort, 'Good-Pass-7f3a'], 'ZCARD',
                       'tfa:pg:8E000000000000000000000000000001'), 1,
               'TEST 2: counted in the password-protected Redis');
--- request
POST /good/2fa/2/pin/8E000000000000000000000000000001/resend/voice
--- response_headers
X-RateLimit-Remaining: 0
--- error_log eval
[
qr/\[error\] .*tfa_resend_limit_zone "pb": redis at 127\.0\.0\.1:\d+ refused the connection's set-up: "WRONGPASS/,
qr/\[error\] .*tfa_resend_limit_zone "pn": redis at 127\.0\.0\.1:\d+ [^;]*"NOAUTH Authentication required\."/,
]
--- no_error_log
Bad-Pass-91c2
Good-Pass-7f3a



=== TEST 3: a database other than 0; Redis forgets the script (SCRIPT FLUSH): EVAL takes over
--- http_config eval
"tfa_resend_limit_zone zone=db:1m rate=3/1m redis_timeout=5s store=redis://127.0.0.1:$::RedisPort/3;\n"
. "$::Mock"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=db;
        proxy_pass http://127.0.0.1:1980;
    }
--- init
::resend($ServerPort, '/2fa/2/pin/8C000000000000000000000000000001/resend/voice');
Test::More::is(::redis([$::RedisPort, undef, 3], 'ZCARD',
                       'tfa:db:8C000000000000000000000000000001'), 1,
               'TEST 3: counted in database 3');
Test::More::is(::redis($::RedisPort, 'EXISTS',
                       'tfa:db:8C000000000000000000000000000001'), 0,
               'TEST 3: not in database 0');
::redis($::RedisPort, 'SCRIPT', 'FLUSH');
--- request eval
[
"POST /2fa/2/pin/8C000000000000000000000000000001/resend/voice",
"POST /2fa/2/pin/8C000000000000000000000000000001/resend/voice",
"POST /2fa/2/pin/8C000000000000000000000000000001/resend/voice",
]
--- error_code eval
[200, 200, 429]
--- response_headers eval
[
"X-RateLimit-Remaining: 1",
"X-RateLimit-Remaining: 0",
"X-RateLimit-Remaining: 0",
]
--- no_error_log
[alert]
[crit]
