# The Redis store of the resend limiter with a Redis 6 ACL user
# (redis_username=): AUTH NAME PASSWORD, a user allowed only the tfa:* keys
# and the commands the script needs; a wrong password and a disabled user
# are store errors whose log line names the user, never the password.
#
# A real redis-server (Debian's) is started by this file on a free loopback
# port before the tests and stopped after them (t/TfaResend.pm); its users
# are made with ACL SETUSER.  The mock Infobip API (port 1980,
# t/TfaResend.pm) answers the resends let through.
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
our $RedisPort = free_port();

redis_start($RedisPort);

# the user the gateways use: the tfa:* keys, the script and what it calls
::redis($RedisPort, 'ACL', 'SETUSER', 'tfa', 'on', '>Acl-Pass-5d1e',
        '~tfa:*', 'resetchannels', '-@all', '+eval', '+evalsha',
        '+script|load', '+time', '+zcard', '+zremrangebyscore', '+zrange',
        '+zadd', '+pexpire', '+zrem', '+del') eq 'OK'
    or die 'ACL SETUSER tfa';

# a user switched off, whose password is right
::redis($RedisPort, 'ACL', 'SETUSER', 'gone', 'off', '>Off-Pass-2b7c',
        '~*', '+@all') eq 'OK'
    or die 'ACL SETUSER gone';

our $AclPass = secret_file($Dir, 'acl.pass', "Acl-Pass-5d1e\n");
our $WrongPass = secret_file($Dir, 'wrong.pass', "Wrong-Pass-8a40\n");
our $OffPass = secret_file($Dir, 'off.pass', "Off-Pass-2b7c\n");


# the mock Infobip API
our $Mock = mock_infobip(1980);


# ---- configuration: nginx -t ---------------------------------------------

my $z = 'tfa_resend_limit_zone zone=z:1m rate=3/10m';

my @bad = (
    [ "$z store=redis://127.0.0.1 redis_username=tfa;",
      qr/"redis_username=tfa" needs redis_password_file=/ ],
    [ "$z store=redis://127.0.0.1 redis_username= "
      . "redis_password_file=$AclPass;",
      qr/invalid "redis_username=": a user name of 1 to 128 characters/ ],
    [ "$z store=redis://127.0.0.1 redis_username=a\\\"b "
      . "redis_password_file=$AclPass;",
      qr/a user name of printable characters, without spaces or quotes/ ],
    [ "$z store=redis://127.0.0.1 redis_username=tfa redis_username=tfa "
      . "redis_password_file=$AclPass;",
      qr/duplicate parameter "redis_username=tfa"/ ],
    [ "$z store=shm redis_username=tfa;",
      qr/invalid parameter "redis_username=tfa": only with store=redis:\/\// ],
);

for my $t (@bad) {
    my ($conf, $re) = @$t;
    my ($rc, $out) = nginx_t($conf);
    isnt($rc, 0, "nginx -t fails: $conf");
    like($out, qr/\[emerg\] .*$re/, "a clear [emerg]: $conf") or diag($out);
    unlike($out, qr/Acl-Pass/, "no password in the output: $conf");
}


run_tests();

__DATA__

=== TEST 1: an ACL user: AUTH NAME PASSWORD; the script runs with only the tfa:* keys and its own commands; a wrong password and a disabled user are store errors
A chain on one nginx: this block starts it; TEST 2 (no --- config) goes on with it.
--- http_config eval
"tfa_resend_limit_zone zone=ua:1m rate=2/1m redis_timeout=5s store=redis://127.0.0.1:$::RedisPort redis_username=tfa redis_password_file=$::AclPass on_store_error=reject;\n"
. "tfa_resend_limit_zone zone=uw:1m rate=2/1m redis_timeout=5s store=redis://127.0.0.1:$::RedisPort redis_username=tfa redis_password_file=$::WrongPass on_store_error=reject;\n"
. "tfa_resend_limit_zone zone=uo:1m rate=2/1m redis_timeout=5s store=redis://127.0.0.1:$::RedisPort redis_username=gone redis_password_file=$::OffPass on_store_error=reject;\n"
. "$::Mock"
--- config
    tfa_resend on;
    tfa_resend_credentials basic "user:pass";
    tfa_resend_pass_header X-Mock-Status;

    location /acl/ {
        rewrite ^/acl(/.*)$ $1 break;
        tfa_resend_limit zone=ua;
        tfa_resend_limit_refund on;
        proxy_pass http://127.0.0.1:1980;
    }

    location /wrong/ {
        rewrite ^/wrong(/.*)$ $1 break;
        tfa_resend_limit zone=uw;
        proxy_pass http://127.0.0.1:1980;
    }

    location /off/ {
        rewrite ^/off(/.*)$ $1 break;
        tfa_resend_limit zone=uo;
        proxy_pass http://127.0.0.1:1980;
    }
--- request eval
[
"POST /acl/2fa/2/pin/8A000000000000000000000000000001/resend/voice",
"POST /acl/2fa/2/pin/8A000000000000000000000000000001/resend/voice",
"POST /acl/2fa/2/pin/8A000000000000000000000000000001/resend/voice",
"POST /wrong/2fa/2/pin/8A000000000000000000000000000002/resend/voice",
"POST /off/2fa/2/pin/8A000000000000000000000000000003/resend/voice",
]
--- error_code eval
[200, 200, 429, 503, 503]
--- response_headers eval
[
"X-RateLimit-Remaining: 1",
"X-RateLimit-Remaining: 0",
"X-RateLimit-Remaining: 0",
"",
"",
]
--- no_error_log
[alert]
[crit]



=== TEST 2: an ACL user: the admissions are in Redis, under the user's keys; a refund (ZREM) is allowed too
TEST 3 (no --- config) goes on with it.
--- init
Test::More::is(::redis($::RedisPort, 'ZCARD',
                       'tfa:ua:8A000000000000000000000000000001'), 2,
               'TEST 2: two admissions counted by the ACL user');
--- request
POST /acl/2fa/2/pin/8A000000000000000000000000000004/resend/voice
--- more_headers
X-Mock-Status: 500
--- error_code: 500
--- response_headers
X-RateLimit-Remaining: 1
--- error_log eval
[
qr/\[error\] .*tfa_resend_limit_zone "uw": redis at 127\.0\.0\.1:\d+ refused the connection's set-up as user "tfa": "WRONGPASS /,
qr/\[error\] .*tfa_resend_limit_zone "uo": redis at 127\.0\.0\.1:\d+ refused the connection's set-up as user "gone": "WRONGPASS /,
]
--- no_error_log
Acl-Pass-5d1e
Wrong-Pass-8a40
Off-Pass-2b7c
[alert]
[crit]



=== TEST 3: an ACL user: the refunded admission is gone from Redis, the user's ZREM was accepted
--- init
my $left;
for (1 .. 40) {
    $left = ::redis($::RedisPort, 'ZCARD',
                    'tfa:ua:8A000000000000000000000000000004');
    last if $left == 0;
    Time::HiRes::sleep(0.05);
}
Test::More::is($left, 0, 'TEST 3: the refund removed the admission');
--- request
POST /acl/2fa/2/pin/8A000000000000000000000000000004/resend/voice
--- error_code: 200
--- response_headers
X-RateLimit-Remaining: 1
--- no_error_log
Acl-Pass-5d1e
[alert]
[crit]
