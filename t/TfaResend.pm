package TfaResend;

# Helpers shared by the t/*.t files, for what Test::Nginx has no section
# for.  Plain Perl, exported into the test file (package main), so a block
# calls them as ::name(...) from its --- init or an eval section, under the
# bundled runner in t/lib and under OpenResty's test-nginx alike.  A file
# loads it with
#
#     use FindBin;
#     use lib $FindBin::Bin;
#     use TfaResend;
#
# Configuration errors: nginx reports an [emerg] met while parsing its
# configuration on its startup log, which for Debian's nginx is stderr
# (--error-log-path=stderr), not the test's logs/error.log; so Test::Nginx's
# error_log section cannot see it under either runner.  nginx_t() runs
# `nginx -t` on a configuration built like Test::Nginx builds one and
# returns what nginx printed.  It names the startup log (-e stderr): an
# nginx built with the default error log path would otherwise write each
# line twice, to stderr and to the prefix's logs/error.log.

use strict;
use warnings;

use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes ();
use Exporter 'import';

our @EXPORT = qw(nginx_t free_port secret_file sleep_until count_lines
                 add_no_error_log canonical_ok refusal mock_infobip
                 resend burst flood wait_port
                 resp read_reply redis redis_start redis_stop redis_block
                 tls_files redis_start_tls redis_tls gateway_start
                 gateway_stop sentinel_start sentinel_start_tls
                 cluster_start key_slot cluster_owners redis_pause);
our @EXPORT_OK = qw(reload_nginx edit_conf);


# ---- configuration ------------------------------------------------------

sub nginx_t {
    my ($http, %opt) = @_;

    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $dir = tempdir(CLEANUP => 1);

    mkdir "$dir/logs";
    mkdir "$dir/conf";

    my $conf = '';

    for my $m (split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '') {
        $conf .= "load_module $m;\n";
    }

    $conf .= "error_log logs/error.log debug;\n"
             . "pid logs/nginx.pid;\n"
             . ($opt{main} // '')
             . "\nevents { worker_connections 64; }\n"
             . "http {\n"
             . "    client_body_temp_path $dir/cbt;\n"
             . "    proxy_temp_path $dir/pt;\n"
             . "    fastcgi_temp_path $dir/ft;\n"
             . "    uwsgi_temp_path $dir/ut;\n"
             . "    scgi_temp_path $dir/st;\n"
             . "$http\n}\n";

    open my $fh, '>', "$dir/conf/nginx.conf" or die "nginx.conf: $!";
    print $fh $conf;
    close $fh;

    my $out = `$nginx -t -e stderr -p $dir/ -c conf/nginx.conf 2>&1`;
    my $rc = $? >> 8;

    if (-s "$dir/logs/error.log") {
        open my $log, '<', "$dir/logs/error.log" or die "error.log: $!";
        local $/;
        $out .= <$log>;
        close $log;
    }

    return wantarray ? ($rc, $out) : $out;
}


# A free loopback port, other than the tested nginx's and than @not: a
# port of its own for a mock or a redis-server, so that runs of other
# files may overlap with this one.
sub free_port {
    my %not = map { $_ => 1 } @_;

    for (1 .. 50) {
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                      LocalPort => 0, ReuseAddr => 1)
            or die "no free port: $!";
        my $port = $s->sockport;
        close $s;
        return $port unless $not{$port}
                            || $port == ($ENV{TEST_NGINX_SERVER_PORT} || 1984);
    }

    die "no free port";
}

# $dir/$name holding $text, mode 0600 unless told: returns its path
sub secret_file {
    my ($dir, $name, $text, $mode) = @_;

    open my $fh, '>', "$dir/$name" or die "$name: $!";
    print $fh $text;
    close $fh;
    chmod $mode // 0600, "$dir/$name";

    return "$dir/$name";
}

# For an add_block_preprocessor: patterns every block of the file must not
# find in the error log, on top of its own --- no_error_log.
sub add_no_error_log {
    my ($block, @patterns) = @_;

    my $nel = $block->no_error_log;
    my @nel = !defined $nel ? () : ref $nel ? @$nel : split /\n/, $nel;

    $block->set_value('no_error_log', [@nel, @patterns]);
}


# ---- time and logs ------------------------------------------------------

sub sleep_until {
    my $t = shift;
    my $d = $t - Time::HiRes::time();
    Time::HiRes::sleep($d) if $d > 0;
}

# how many lines of $file match $re (0 when there is no such file)
sub count_lines {
    my ($file, $re) = @_;
    open my $in, '<', $file or return 0;
    my $n = grep { /$re/ } <$in>;
    close $in;
    return $n;
}


# ---- the canonical answers ----------------------------------------------

sub canonical_ok {
    my $pin = shift;
    return qq({"pinId":"$pin","to":"41793026727","callStatus":"PROCESSING"});
}

# a 4xx the module made itself; $pin_id undef for "pinId":null
sub refusal {
    my ($pin_id, $message_id, $text) = @_;

    return '{"pinId":' . (defined $pin_id ? "\"$pin_id\"" : 'null')
           . ',"to":null,"callStatus":"BAD_REQUEST","requestError":'
           . '{"serviceException":{"messageId":"' . $message_id
           . '","text":"' . $text . '"}}}';
}


# ---- the mock Infobip API of the limiter's files ------------------------
#
# An nginx server block (for --- http_config) on $port that answers like
# the real API and writes one line per resend it received to logs/mock.log
# ("PINID STATUS"), which a location of the gateway can read back.  A
# request with X-Mock-Status: 500 makes it fail; 401, 403, 404 or 429 makes
# it refuse the call as the API does.  rate_headers => 1: it
# sends rate limit headers of its own, which the gateway must replace with
# its limiter's.

sub mock_infobip {
    my ($port, %opt) = @_;

    my $rate = !$opt{rate_headers} ? '' : <<'_EOC_';

        add_header X-RateLimit-Limit 1000 always;
        add_header X-RateLimit-Remaining 999 always;
_EOC_

    return <<_EOC_;
    log_format mock '\$pin \$status';

    server {
        listen 127.0.0.1:$port;
        default_type application/json;
$rate
        location /2fa/2/pin/ {
            rewrite ^/2fa/2/pin/(\\w+)/resend/voice\$ /mock/\$1 last;
            return 404;
        }

        location ~ ^/mock/(?<pin>\\w+)\$ {
            internal;
            access_log logs/mock.log mock;

            if (\$http_x_mock_status = 500) {
                return 500 '{"requestError":{"serviceException":{"messageId":"GENERAL_ERROR","text":"mock failure"}}}';
            }

            if (\$http_x_mock_status = 401) {
                return 401 '{"requestError":{"serviceException":{"messageId":"UNAUTHORIZED","text":"Invalid login details"}}}';
            }

            if (\$http_x_mock_status = 403) {
                return 403 '{"requestError":{"serviceException":{"messageId":"FORBIDDEN","text":"Forbidden"}}}';
            }

            if (\$http_x_mock_status = 404) {
                return 404 '{"requestError":{"serviceException":{"messageId":"NOT_FOUND","text":"Pin not found"}}}';
            }

            if (\$http_x_mock_status = 429) {
                return 429 '{"requestError":{"serviceException":{"messageId":"TOO_MANY_REQUESTS","text":"Too many requests"}}}';
            }

            return 200 '{"pinId":"\$pin","to":"41793026727","callStatus":"PENDING_ACCEPTED"}';
        }
    }
_EOC_
}


# ---- resends by hand ----------------------------------------------------

# one resend on its own connection: its status code, and in list context
# how many seconds the answer took and which worker gave it too (the
# location's X-Worker header, 'none' without one)
sub resend {
    my ($port, $path) = @_;

    my $t0 = Time::HiRes::time();
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or die "connect to $port: $!";

    print $s "POST $path HTTP/1.1\r\nHost: localhost\r\n"
             . "Content-Length: 0\r\nConnection: close\r\n\r\n";

    local $/;
    my $r = <$s> // '';
    close $s;

    my $status = $r =~ m{^HTTP/1\.1 (\d{3})} ? $1 : 0;

    my ($worker) = $r =~ m{^X-Worker: (\d+)\r$}mi;

    return wantarray ? ($status, Time::HiRes::time() - $t0, $worker // 'none')
                     : $status;
}

# until something listens on $port (an nginx under valgrind starts slowly),
# 30 s at most
sub wait_port {
    my $port = shift;

    for (1 .. 600) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp');
        if ($s) {
            close $s;
            return 1;
        }
        Time::HiRes::sleep(0.05);
    }

    die "nothing listens on port $port";
}

# M resends at once: all M connections opened first, then the requests
# written back to back, then the answers read.  $ports is a port or a list
# of them, $path a path or a list of them: the connections go to each in
# turn.  Returns the status codes as "200 x3, 429 x57".
sub burst {
    my ($ports, $path, $m) = @_;
    my @ports = ref $ports ? @$ports : ($ports);
    my @paths = ref $path ? @$path : ($path);

    my @socks = map {
        my $port = $ports[$_ % @ports];
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                              Proto => 'tcp', Timeout => 10)
            or die "connect to $port: $!"
    } 0 .. $m - 1;

    for my $i (0 .. $m - 1) {
        syswrite $socks[$i], "POST $paths[$i % @paths] HTTP/1.1\r\n"
                             . "Host: localhost\r\nContent-Length: 0\r\n"
                             . "Connection: close\r\n\r\n";
    }

    my %n;
    for my $s (@socks) {
        local $/;
        my $r = <$s> // '';
        close $s;
        $n{ $r =~ m{^HTTP/1\.1 (\d{3})} ? $1 : 'none' }++;
    }

    return join ', ', map { "$_ x$n{$_}" } sort keys %n;
}


# $n resends of random well-formed pinIds, each new, over keep-alive
# connections, with X-Mock-Status: $mock (404: pinIds the upstream does not
# know).  Returns the status codes as "404 x700".
sub flood {
    my ($port, $prefix, $n, $mock) = @_;
    my ($s, %n);

    for (1 .. $n) {
        $s //= IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $port, Proto => 'tcp',
                                     Timeout => 10)
            or die "connect to $port: $!";

        my $pin = join '', map { sprintf '%08X', int rand 2**32 } 1 .. 4;

        print $s "POST $prefix/2fa/2/pin/$pin/resend/voice HTTP/1.1\r\n"
                 . "Host: localhost\r\nContent-Length: 0\r\n"
                 . "X-Mock-Status: $mock\r\n\r\n";

        my $line = <$s> // die "flood: no answer for $pin";
        my ($status) = $line =~ m{^HTTP/1\.1 (\d{3})};
        my ($len, $close) = (0, 0);

        while (defined(my $h = <$s>)) {
            last if $h eq "\r\n";
            $len = $1 if $h =~ /^Content-Length:\s*(\d+)/i;
            $close = 1 if $h =~ /^Connection:\s*close/i;
        }

        read $s, my $body, $len if $len;

        if ($close) {
            close $s;
            undef $s;
        }

        $n{$status // 'none'}++;
    }

    return join ', ', map { "$_ x$n{$_}" } sort keys %n;
}


# ---- Redis: servers of the test file's own, and a small RESP client -----
#
# redis_start() runs Debian's redis-server in the foreground, without
# persistence, in a directory of its own; the servers still running when
# the test file ends are stopped then (by the process that started them,
# not by a child Test::Nginx forked).

our $Main = $$;
our (%Redis, $RedisDir);

sub resp {
    return '*' . scalar(@_) . "\r\n"
           . join '', map { '$' . length($_) . "\r\n$_\r\n" } @_;
}

sub read_reply {
    my $s = shift;

    my $line = <$s>;
    die "redis: no answer\n" unless defined $line;
    $line =~ s/\r\n\z//;

    my ($type, $v) = (substr($line, 0, 1), substr($line, 1));

    return $v if $type eq '+' || $type eq ':';
    return "ERR $v" if $type eq '-';

    if ($type eq '$') {
        return undef if $v < 0;
        my $buf = '';
        while (length $buf < $v + 2) {
            read($s, $buf, $v + 2 - length $buf, length $buf) or last;
        }
        return substr $buf, 0, $v;
    }

    if ($type eq '*') {
        return undef if $v < 0;
        return [ map { read_reply($s) } 1 .. $v ];
    }

    die "redis: cannot read \"$line\"\n";
}

# redis($port, CMD ...), or redis([$port, $password, $db], CMD ...)
sub redis {
    my ($to, @cmd) = @_;
    my ($port, $password, $db) = ref $to ? @$to : ($to);

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or return "ERR connect: $!";

    my @pre;
    push @pre, [ 'AUTH', $password ] if defined $password;
    push @pre, [ 'SELECT', $db ] if defined $db;

    print $s resp(@$_) for @pre;
    print $s resp(@cmd);

    read_reply($s) for @pre;
    my $r = read_reply($s);
    close $s;

    return $r;
}

sub redis_start {
    my ($port, @opt) = @_;

    $RedisDir //= tempdir(CLEANUP => 1);

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDOUT, '>>', "$RedisDir/redis-$port.log";
        open STDERR, '>&', \*STDOUT;
        { exec 'redis-server', '--port', $port, '--bind', '127.0.0.1',
               '--save', '', '--appendonly', 'no', '--daemonize', 'no',
               '--dir', $RedisDir, @opt; }
        POSIX::_exit(127);
    }

    $Redis{$port} = $pid;

    for (1 .. 200) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp');
        if ($s) {
            print $s resp('PING');
            my $r = eval { read_reply($s) } // '';
            close $s;
            return if $r eq 'PONG' || $r =~ /NOAUTH/;
        }
        Time::HiRes::sleep(0.025);
    }

    die "redis-server on port $port did not start; "
        . "see $RedisDir/redis-$port.log";
}

sub redis_stop {
    my $port = shift;
    my $pid = delete $Redis{$port} or return;

    # a server paused by redis_pause() ends only once it runs again
    kill 'TERM', $pid;
    kill 'CONT', $pid;
    waitpid $pid, 0;
}

# redis_pause($port, 1): the server stops (SIGSTOP), its connections stay
# open and unanswered; redis_pause($port, 0): it goes on (SIGCONT)
sub redis_pause {
    my ($port, $stop) = @_;
    my $pid = $Redis{$port} or die "no redis-server on port $port";

    kill $stop ? 'STOP' : 'CONT', $pid or die "kill $pid: $!";
}

# Redis busy in a script for $ms (every client waits): returns the socket
# the answer comes on
sub redis_block {
    my ($port, $ms) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10)
        or die "connect to redis: $!";

    print $s resp('EVAL', "local t = redis.call('TIME')\n"
                  . "local t0 = t[1] * 1000000 + t[2]\n"
                  . "while true do\n"
                  . "  t = redis.call('TIME')\n"
                  . "  if t[1] * 1000000 + t[2] - t0 > $ms * 1000 then\n"
                  . "    return 1\n"
                  . "  end\n"
                  . "end\n", 0);

    # until Redis is in the script: a PING goes unanswered
    for (1 .. 200) {
        my $p = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp')
            or die "connect to redis: $!";
        print $p resp('PING');
        my $busy = !IO::Select->new($p)->can_read(0.03);
        close $p;
        return $s if $busy;
    }

    die "redis on port $port never got busy";
}

# ---- TLS: certificates made by openssl, Redis on a TLS port ------------
#
# tls_files($dir) makes in $dir a CA (ca.crt), a server certificate it
# signed for localhost, redis.test and 127.0.0.1 (server.crt, server.key),
# a client certificate it signed (client.crt, client.key), and another CA
# that signed none of them (other-ca.crt).

sub tls_files {
    my $dir = shift;

    open my $ext, '>', "$dir/server.ext" or die "server.ext: $!";
    print $ext "subjectAltName=DNS:localhost,DNS:redis.test,IP:127.0.0.1\n";
    close $ext;

    for my $ca (qw(ca other-ca)) {
        system("openssl req -x509 -newkey rsa:2048 -nodes -days 2 "
               . "-subj /CN=tfa-test-$ca -keyout $dir/$ca.key "
               . "-out $dir/$ca.crt 2>/dev/null") == 0
            or die "openssl: the $ca";
    }

    for my $who (qw(server client)) {
        system("openssl req -newkey rsa:2048 -nodes -subj /CN=tfa-$who "
               . "-keyout $dir/$who.key -out $dir/$who.csr 2>/dev/null") == 0
            or die "openssl: the $who request";
        system("openssl x509 -req -in $dir/$who.csr -CA $dir/ca.crt "
               . "-CAkey $dir/ca.key -CAcreateserial -days 2 "
               . ($who eq 'server' ? "-extfile $dir/server.ext " : '')
               . "-out $dir/$who.crt 2>/dev/null") == 0
            or die "openssl: the $who certificate";
    }

    chmod 0644, glob "$dir/*.key";

    return $dir;
}

# redis-cli over TLS with the client certificate: its answer, one line
sub redis_tls {
    my ($port, $dir, @cmd) = @_;

    # redis-cli's own complaints (not started yet) stay off the output
    open my $err, '>&', \*STDERR or die "dup: $!";
    open STDERR, '>', '/dev/null' or die "/dev/null: $!";

    my $out;
    my $ok = open $out, '-|', 'redis-cli', '--tls',
                  '--cacert', "$dir/ca.crt", '--cert', "$dir/client.crt",
                  '--key', "$dir/client.key", '-h', '127.0.0.1',
                  '-p', $port, '--raw', @cmd;

    open STDERR, '>&', $err or die "dup: $!";
    die "redis-cli: $!" unless $ok;

    local $/;
    my $r = <$out> // '';
    close $out;
    $r =~ s/\n\z//;

    return $r;
}

# a redis-server with no plain-text port, TLS on $port
sub redis_start_tls {
    my ($port, $dir, @opt) = @_;

    $RedisDir //= tempdir(CLEANUP => 1);

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDOUT, '>>', "$RedisDir/redis-$port.log";
        open STDERR, '>&', \*STDOUT;
        { exec 'redis-server', '--port', 0, '--tls-port', $port,
               '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
               '--daemonize', 'no', '--dir', $RedisDir,
               '--tls-cert-file', "$dir/server.crt",
               '--tls-key-file', "$dir/server.key",
               '--tls-ca-cert-file', "$dir/ca.crt",
               '--tls-auth-clients', 'no', @opt; }
        POSIX::_exit(127);
    }

    $Redis{$port} = $pid;

    for (1 .. 200) {
        return if redis_tls($port, $dir, 'PING') eq 'PONG';
        Time::HiRes::sleep(0.025);
    }

    die "redis-server (TLS) on port $port did not start; "
        . "see $RedisDir/redis-$port.log";
}


# ---- Redis Cluster: masters only, made by redis-cli --cluster create ----
#
# cluster_start(\@ports, %opt) starts a redis-server in cluster mode on
# each port (its bus on a free port of its own, not PORT + 10000, which
# may be past 65535), makes them one cluster of masters without replicas
# and waits until every node says it is ok.  tls => $dir: the nodes speak
# TLS only, the bus and the replication too (tls-cluster, tls-replication),
# with the certificates of tls_files($dir); cert => { PORT => 'NAME' }: the
# node on PORT uses $dir/NAME.crt and $dir/NAME.key instead of server's.
# node_timeout => ms (cluster-node-timeout, default 60000: no node is
# taken for failed while a test stops it).

sub cluster_start {
    my ($ports, %opt) = @_;
    my $tls = $opt{tls};
    my @ports = @$ports;
    my @bus;

    push @bus, free_port(@ports, @bus) for @ports;

    for my $i (0 .. $#ports) {
        my @o = ('--cluster-enabled', 'yes',
                 '--cluster-config-file', "nodes-$ports[$i].conf",
                 '--cluster-port', $bus[$i],
                 '--cluster-node-timeout', $opt{node_timeout} // 60000);

        if (!$tls) {
            redis_start($ports[$i], @o);
            next;
        }

        my $name = ($opt{cert} // {})->{ $ports[$i] } // 'server';

        redis_start_tls($ports[$i], $tls, @o, '--tls-cluster', 'yes',
                        '--tls-replication', 'yes',
                        '--tls-cert-file', "$tls/$name.crt",
                        '--tls-key-file', "$tls/$name.key");
    }

    my @tls = !$tls ? () : ('--tls', '--cacert', "$tls/ca.crt",
                            '--cert', "$tls/client.crt",
                            '--key', "$tls/client.key");

    my $text = `redis-cli @tls --cluster create @{[
                    map { "127.0.0.1:$_" } @ports ]} --cluster-yes 2>&1`;
    die "redis-cli --cluster create failed:\n$text" if $? != 0;

    for my $i (1 .. 300) {
        my $ok = grep {
            ($tls ? redis_tls($_, $tls, 'CLUSTER', 'INFO')
                  : eval { redis($_, 'CLUSTER', 'INFO') } // '')
                =~ /cluster_state:ok/
        } @ports;
        return if $ok == @ports;
        Time::HiRes::sleep(0.1);
    }

    die "the cluster of @ports did not come up in 30s";
}

# the cluster specification's CRC16 (XModem) of a key's hash tag: its slot
sub key_slot {
    my $key = shift;

    $key = $1 if $key =~ /\{([^}]+)\}/;

    my $crc = 0;
    for my $c (unpack 'C*', $key) {
        $crc ^= $c << 8;
        for (1 .. 8) {
            $crc = ($crc & 0x8000) ? (($crc << 1) ^ 0x1021) & 0xffff
                                   : ($crc << 1) & 0xffff;
        }
    }

    return $crc & 16383;
}

# the master of every slot, as the node on $port sees it (CLUSTER NODES;
# over TLS with tls_files($tls)): a list of 16384 ports
sub cluster_owners {
    my ($port, $tls) = @_;

    my $nodes = $tls ? redis_tls($port, $tls, 'CLUSTER', 'NODES')
                     : redis($port, 'CLUSTER', 'NODES');
    my @owner = (0) x 16384;

    for my $line (split /\n/, $nodes) {
        my ($id, $addr, $flags, @rest) = split ' ', $line;
        next unless $flags =~ /master/ && $addr =~ /:(\d+)@/;
        my $p = $1;
        for my $range (@rest[5 .. $#rest]) {
            next unless $range =~ /^(\d+)(?:-(\d+))?$/;
            @owner[$1 .. ($2 // $1)] = ($p) x (($2 // $1) - $1 + 1);
        }
    }

    return @owner;
}

# a Sentinel on $port watching the master $master_port as $name (quorum
# 2, down after 1 s); @conf: more lines of its configuration file, which
# it rewrites as it learns
sub sentinel_start {
    my ($port, $master_port, $name, @conf) = @_;

    sentinel_spawn($port, $master_port, $name, 2, undef, @conf);
}

# the same over TLS only (the certificates of tls_files($dir)), to a master
# on TLS, alone (quorum 1)
sub sentinel_start_tls {
    my ($port, $master_port, $name, $dir) = @_;

    sentinel_spawn($port, $master_port, $name, 1, $dir, 'port 0',
                   "tls-port $port", "tls-cert-file $dir/server.crt",
                   "tls-key-file $dir/server.key",
                   "tls-ca-cert-file $dir/ca.crt",
                   'tls-auth-clients no', 'tls-replication yes');
}

sub sentinel_spawn {
    my ($port, $master_port, $name, $quorum, $tls, @conf) = @_;

    $RedisDir //= tempdir(CLEANUP => 1);

    my $conf = "$RedisDir/sentinel-$port.conf";
    open my $fh, '>', $conf or die "$conf: $!";
    print $fh join "\n", "port $port", 'bind 127.0.0.1', 'daemonize no',
              "dir $RedisDir", @conf,
              "sentinel monitor $name 127.0.0.1 $master_port $quorum",
              "sentinel down-after-milliseconds $name 1000",
              "sentinel failover-timeout $name 3000", '';
    close $fh;

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDOUT, '>>', "$RedisDir/sentinel-$port.log";
        open STDERR, '>&', \*STDOUT;
        { exec 'redis-sentinel', $conf; }
        POSIX::_exit(127);
    }

    $Redis{$port} = $pid;

    for (1 .. 200) {
        my $r = $tls ? redis_tls($port, $tls, 'PING')
                     : eval { redis($port, 'PING') } // '';
        return if $r eq 'PONG' || $r =~ /NOAUTH/;
        Time::HiRes::sleep(0.025);
    }

    die "redis-sentinel on port $port did not start; "
        . "see $RedisDir/sentinel-$port.log";
}

END {
    if ($$ == $Main) {
        redis_stop($_) for keys %Redis;
    }
}


# ---- a second gateway: another nginx server beside the tested one -------
#
# gateway_start($dir, $port, $http) starts nginx with 2 workers listening
# on $port, whose /2fa/ location uses "tfa_resend_limit zone=$zone" and
# proxies to the mock on port 1980; $http holds the zone's directive.
# Its error log is $dir/logs/error.log.  Returns its master's pid; the
# gateways still running when the test file ends are stopped then.

our %Gateway;

sub gateway_start {
    my ($dir, $port, $zone, $http) = @_;

    mkdir $dir;
    mkdir "$dir/logs";
    mkdir "$dir/conf";

    my $conf = '';
    for my $m (split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '') {
        $conf .= "load_module $m;\n";
    }

    $conf .= <<"_EOC_";
error_log $dir/logs/error.log info;
pid $dir/logs/nginx.pid;
worker_processes 2;
events { worker_connections 256; }

http {
    access_log off;
    client_body_temp_path $dir/cbt;
    proxy_temp_path $dir/pt;
    fastcgi_temp_path $dir/ft;
    uwsgi_temp_path $dir/ut;
    scgi_temp_path $dir/st;

    $http

    server {
        listen 127.0.0.1:$port reuseport;

        location /2fa/ {
            tfa_resend on;
            tfa_resend_credentials basic "user:pass";
            tfa_resend_limit zone=$zone;
            proxy_pass http://127.0.0.1:1980;
        }
    }
}
_EOC_

    open my $fh, '>', "$dir/conf/nginx.conf" or die "gateway conf: $!";
    print $fh $conf;
    close $fh;

    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    system($nginx, '-p', "$dir/", '-c', 'conf/nginx.conf') == 0
        or die "the gateway on port $port did not start";

    my $pid;
    for (1 .. 100) {
        if (open my $p, '<', "$dir/logs/nginx.pid") {
            $pid = <$p>;
            close $p;
        }
        last if $pid;
        Time::HiRes::sleep(0.05);
    }

    chomp $pid;
    $Gateway{$pid} = 1;

    return $pid;
}

sub gateway_stop {
    my $pid = shift;

    return unless delete $Gateway{$pid};

    kill 'QUIT', $pid;
    for (1 .. 100) {
        last unless kill 0, $pid;
        Time::HiRes::sleep(0.05);
    }
}

END {
    if ($$ == $Main) {
        gateway_stop($_) for keys %Gateway;
    }
}


# A reload of the running test server (`nginx -s reload`, as SIGHUP), for
# the blocks that go on without --- config: edit_conf() changes its
# nginx.conf, reload_nginx() waits until as many new workers as there were
# old ones run and none of the old (or, with $fails, until the reload has
# been refused with an [emerg]).

sub nginx_workers {
    my $master = shift;
    my @w;

    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $l = <$fh> // '';
        close $fh;
        push @w, $1 if $l =~ /^(\d+) \(.*\) (\S) (\d+) / && $3 == $master
                       && $2 ne 'Z';
    }

    return @w;
}

sub reload_nginx {
    my $fails = shift;

    my $root = Test::Nginx::Util::server_root();
    my $log = "$root/logs/error.log";
    my $pos = -s $log;

    open my $fh, '<', "$root/logs/nginx.pid" or die "pid: $!";
    my $master = <$fh>;
    close $fh;
    chomp $master;

    my %old = map { $_ => 1 } nginx_workers($master);
    my $n = keys %old;

    kill 'HUP', $master or die "HUP $master: $!";

    for (1 .. 200) {
        Time::HiRes::sleep(0.05);

        if ($fails) {
            open my $in, '<', $log or die "error.log: $!";
            seek $in, $pos, 0;
            local $/;
            my $new = <$in> // '';
            close $in;
            return if $new =~ /\[emerg\]/;

        } else {
            my @w = nginx_workers($master);
            return if @w == $n && !grep { $old{$_} } @w;
        }
    }

    die "reload: no " . ($fails ? '[emerg]' : 'new workers') . " in 10s";
}

sub edit_conf {
    my ($from, $to) = @_;
    my $conf = Test::Nginx::Util::server_root() . '/conf/nginx.conf';

    open my $in, '<', $conf or die "$conf: $!";
    local $/;
    my $text = <$in>;
    close $in;

    $text =~ s/\Q$from\E/$to/g or die "edit_conf: no \"$from\"";

    open my $out, '>', $conf or die "$conf: $!";
    print $out $text;
    close $out;
}


1;
