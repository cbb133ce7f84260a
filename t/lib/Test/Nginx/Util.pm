package Test::Nginx::Util;

# A small, bundled stand-in for OpenResty's Test::Nginx::Util: server
# root layout, nginx.conf generation, nginx process management and the
# per-block driver.  Semantics follow openresty/test-nginx; the code is
# our own and only covers what this project's t/*.t files use.

use strict;
use warnings;

use base 'Exporter';

use POSIX qw(SIGQUIT SIGKILL SIGTERM WNOHANG);
use Cwd ();
use Config ();
use File::Spec ();
use File::Path qw(make_path remove_tree);
use File::Temp ();
use List::Util qw(shuffle);
use Scalar::Util qw(looks_like_number);
use Time::HiRes qw(sleep);
use IO::Socket::INET ();
use IO::Socket::UNIX ();
use Socket qw(SOCK_STREAM);
use Test::More ();
use Test::LongString ();

our $VERSION = '0.01';

our @EXPORT = qw(
    $ServerPort $ServerPortForClient $ServRoot $LogLevel $NoLongString
    $ServerAddr $ServerName $RepeatEach $PidFile $ConfFile $NginxVersion
    $RunTestHelper $CheckErrorLog $FilterHttpConfig
    env_to_nginx is_str no_long_string server_addr server_name
    timeout no_shuffle use_hup add_block_preprocessor add_cleanup_handler
    bail_out run_tests repeat_each worker_connections workers master_on
    master_off master_process_enabled log_level check_accum_error_log
    no_root_location html_dir server_root server_port
    server_port_for_client config_preamble sleep_time verbose parse_time
    parse_headers error_log_data access_log_data get_pid_from_pidfile
    is_running trim show_all_chars get_canon_version get_nginx_version
);

our $Verbose      = $ENV{TEST_NGINX_VERBOSE};
our $UseHup       = $ENV{TEST_NGINX_USE_HUP};
our $UseValgrind  = $ENV{TEST_NGINX_USE_VALGRIND};
our $LoadModules  = $ENV{TEST_NGINX_LOAD_MODULES};
our $NoShuffle    = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $Timeout      = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $CheckAccumErrLog = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $PostponeOutput   = $ENV{TEST_NGINX_POSTPONE_OUTPUT};
our $EventType    = $ENV{TEST_NGINX_EVENT_TYPE};
our $ReusePort    = $ENV{TEST_NGINX_REUSE_PORT};
our $NginxBinary  = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $LogLevel     = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled = 'on';
our $ServerPort   = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                    || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $TestNginxSleep = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $WorkerUser   = $ENV{TEST_NGINX_WORKER_USER};
our $ServerAddr   = '127.0.0.1';
our $ServerName   = 'localhost';
our $Workers      = 1;
our $WorkerConnections = 64;
our $RepeatEach   = 1;
our $NoRootLocation = 0;
our $NoLongString;
our $ConfigPreamble = '';
our $FilterHttpConfig;
our ($RunTestHelper, $CheckErrorLog);
our ($NginxVersion, $NginxRawVersion);
our ($ChildPid, $TcpServerPid, $InSubprocess, $ErrLogFilePos);
our ($PrevConfig, $ConfigVersion);
our $FirstTime = 1;
our (@CleanupHandlers, @BlockPreprocessors, @EnvToNginx);

if (defined $WorkerUser && $WorkerUser !~ /^\w+(?:\s+\w+)?$/) {
    die "Bad value in the env TEST_NGINX_WORKER_USER: $WorkerUser\n";
}

our $ServRoot = $ENV{TEST_NGINX_SERVROOT}
                || File::Spec->rel2abs('t/servroot');
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";

# Debian-style builds hard-wire temp paths under /var/lib/nginx; keep
# everything inside the server root instead (skipped when a block's
# http_config sets the directive itself).
our @TempPaths = qw(client_body proxy fastcgi uwsgi scgi);

srand $$;


# ---- small accessors (same names and behaviour as upstream) ----------

sub no_long_string ()   { $NoLongString = 1 }
sub no_shuffle ()       { $NoShuffle = 1 }
sub use_hup ()          { $UseHup = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub master_on ()        { $MasterProcessEnabled = 'on' }
sub master_off ()       { $MasterProcessEnabled = 'off' }
sub html_dir ()         { $HtmlDir }
sub server_root ()      { $ServRoot }
sub sleep_time          { $TestNginxSleep }
sub verbose             { $Verbose }
sub config_preamble ($) { $ConfigPreamble = shift }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)    { unshift @CleanupHandlers, shift }

sub _getset {
    my ($ref, @args) = @_;
    $$ref = shift @args if @args;
    return $$ref;
}

sub timeout (@)            { _getset(\$Timeout, @_) }
sub server_addr (@)        { _getset(\$ServerAddr, @_) }
sub server_name (@)        { _getset(\$ServerName, @_) }
sub server_port (@)        { _getset(\$ServerPort, @_) }
sub server_port_for_client (@) { _getset(\$ServerPortForClient, @_) }
sub repeat_each (@)        { _getset(\$RepeatEach, @_) }
sub workers (@)            { _getset(\$Workers, @_) }
sub worker_connections (@) { _getset(\$WorkerConnections, @_) }
sub log_level (@)          { _getset(\$LogLevel, @_) }

sub master_process_enabled (@) {
    if (@_) {
        $MasterProcessEnabled = shift() ? 'on' : 'off';
    }
    return $MasterProcessEnabled;
}

sub env_to_nginx (@) {
    die "env_to_nginx: no arguments specified\n" unless @_;
    for my $v (@_) {
        if ($v !~ /^[A-Za-z_]/ || $v =~ /\n/) {
            die "env_to_nginx: bad argument value: $v\n";
        }
        push @EnvToNginx, $v;
    }
}

sub is_running ($) {
    my $pid = shift;

    return 0 unless $pid && kill(0, $pid);

    # a zombie whose reaper is slow (e.g. a container's PID 1) is gone
    if (open my $in, '<', "/proc/$pid/stat") {
        my $stat = <$in> // '';
        close $in;
        return 0 if $stat =~ /^\d+ \(.*\) Z/s;
    }

    return 1;
}

sub is_str (@) {
    my ($got, $expected, $desc) = @_;

    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }

    if ($NoLongString) {
        return Test::More::is($got, $expected, $desc);
    }

    return Test::LongString::is_string($got, $expected, $desc);
}

sub parse_time ($) {
    my $tm = shift;
    return $tm unless defined $tm;
    if ($tm =~ s/([^_a-zA-Z])ms$/$1/) {
        $tm /= 1000;
    } else {
        $tm =~ s/([^_a-zA-Z])s$/$1/;
    }
    return $tm;
}

sub trim ($) {
    my $s = shift;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /g;
    $s =~ s/\s{2,}/ /g;
    return $s;
}

sub show_all_chars ($) {
    my $s = shift;
    $s =~ s/\n/\\n/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\t/\\t/g;
    return $s;
}

# "Name: value" per line; "!Name" means the header must be absent
sub parse_headers ($) {
    my $s = shift;
    my %headers;
    for my $line (split /\n/, $s) {
        $line =~ s/^\s+|\s+$//g;
        if ($line =~ s/^!\s*//) {
            $headers{$line} = undef;
            next;
        }
        my ($key, $val) = split /\s*:\s*/, $line, 2;
        $headers{$key} = $val;
    }
    return \%headers;
}


# ---- process helpers -------------------------------------------------

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

sub _force_kill ($) {
    my $pid = shift;
    if (getpgrp($pid) == $pid) {
        kill SIGKILL, -$pid;
    } else {
        kill SIGKILL, $pid;
    }
    waitpid $pid, 0;
}

# QUIT, wait up to timeout(), then TERM a few times, then KILL
sub kill_process ($$$) {
    my ($pid, $wait, $name) = @_;

    if ($wait) {
        kill SIGQUIT, $pid;
        my $left = timeout();
        while ($left > 0 && is_running($pid)) {
            waitpid $pid, WNOHANG;
            sleep 0.02;
            $left -= 0.02;
        }
    }

    my $step = $TestNginxSleep;
    for (1 .. 20) {
        waitpid $pid, WNOHANG;
        return unless is_running($pid);
        kill SIGTERM, $pid;
        $step *= 1.2;
        $step = 0.5 if $step > 0.5;
        sleep $step;
    }

    warn "$name - WARNING: killing the child process $pid with force...\n";
    _force_kill($pid);
}

sub cleanup () {
    $_->() for @CleanupHandlers;

    if (defined $TcpServerPid) {
        kill_process($TcpServerPid, 1, 'cleanup');
        undef $TcpServerPid;
    }

    if (defined $ChildPid) {
        kill_process($ChildPid, 1, 'cleanup');
        undef $ChildPid;
    }
}

sub get_pid_from_pidfile ($) {
    my $name = shift;
    open my $in, '<', $PidFile
        or bail_out("$name - Failed to open the pid file $PidFile "
                    . "for reading: $!");
    my $pid = do { local $/; <$in> };
    close $in;
    chomp $pid if defined $pid;
    return $pid;
}

sub can_run ($) {
    my $cmd = shift;

    if ($cmd =~ m{/}) {
        return -f $cmd && -x _ ? $cmd : undef;
    }

    for my $dir ((split /$Config::Config{path_sep}/, $ENV{PATH}), '.') {
        next if $dir eq '';
        my $abs = File::Spec->catfile($dir, $cmd);
        return $abs if -f $abs && -x _;
    }

    return undef;
}

sub get_canon_version (@) {
    sprintf "%d.%03d%03d", $_[0], $_[1], $_[2];
}

sub get_nginx_version () {
    my $out = `$NginxBinary -V 2>&1`;
    if (!defined $out || $? != 0) {
        bail_out("Failed to get the version of the Nginx in PATH: "
                 . ($out // ''));
    }

    if ($out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s) {
        $NginxRawVersion = "$1.$2.$3";
        return get_canon_version($1, $2, $3);
    }

    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}


# ---- logs ------------------------------------------------------------

# Lines of error.log written since the last call (per block, or the
# whole file when check_accum_error_log() is on).
sub error_log_data () {
    # give the log phase a moment: it runs after the response is sent
    sleep $TestNginxSleep * 3;

    open my $in, '<', $ErrLogFile or return undef;

    if (!$CheckAccumErrLog && $ErrLogFilePos && $ErrLogFilePos > 0) {
        seek $in, $ErrLogFilePos, 0;
    }

    my @lines = <$in>;

    if (!$CheckAccumErrLog) {
        $ErrLogFilePos = tell $in;
    }

    close $in;
    return \@lines;
}

sub access_log_data () {
    sleep $TestNginxSleep * 3;
    open my $in, '<', $AccLogFile or return undef;
    my @lines = <$in>;
    close $in;
    return \@lines;
}


# ---- server root and config -----------------------------------------

sub setup_server_root ($) {
    my $first_time = shift;

    if (-d $ServRoot) {
        # only remove what we create, in case TEST_NGINX_SERVROOT is
        # pointed somewhere it should not be
        remove_tree($ConfDir, glob("$ServRoot/*_cache"),
                    glob("$ServRoot/*_temp"));

        if ($UseHup) {
            # nginx keeps running: keep its pid file and sockets
            my @files;
            File::Find::find({ no_chdir => 1, wanted => sub {
                return if -d $_;
                return if !$first_time
                          && /(?:\bnginx\.pid|\.sock|\.crt|\.key)$/;
                push @files, $_;
            }}, $ServRoot);
            unlink @files;

        } else {
            remove_tree($HtmlDir, $LogDir);
            rmdir $ServRoot
                or bail_out("Can't remove $ServRoot (not empty?): $!");
        }
    }

    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $dir;
        mkdir $dir or bail_out("Failed to do mkdir $dir: $!\n");
    }

    open my $out, '>', "$HtmlDir/index.html"
        or bail_out("Can't open $HtmlDir/index.html for writing: $!\n");
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;
}

sub gen_rand_port ($) {
    my $used = shift;

    for (1 .. 1000) {
        my $port = int(rand 63550) + 1985;
        next if $used->{$port};
        my $sock = IO::Socket::INET->new(LocalAddr => $ServerAddr,
                                         LocalPort => $port,
                                         Proto => 'tcp');
        next unless $sock;
        close $sock;
        return $port;
    }

    return undef;
}

# $TEST_NGINX_FOO -> $ENV{TEST_NGINX_FOO}; unknown names bail out;
# $TEST_NGINX_RAND_PORT_N picks a free port, stable within a block
sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;

    return undef unless defined $text;

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;
        if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
            if (!defined $rand_ports->{$var}) {
                my %used = ($ServerPort => 1,
                            map { $_ => 1 } values %$rand_ports);
                my $port = gen_rand_port(\%used);
                defined $port
                    or bail_out("$name - Cannot find an available "
                                . "listening port number for $var.\n");
                $rand_ports->{$var} = $port;
            }
            $val = $rand_ports->{$var};

        } else {
            defined $ENV{$var}
                or bail_out("$name - No environment $var defined.\n");
            $val = $ENV{$var};
        }
        $val;
    }eg;

    return $text;
}

sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;

    my $name = $block->name;
    my $files = $block->user_files;
    return unless $files;

    if (!ref $files) {
        # ">>> name [touch-timestamp]" starts each file
        my @list;
        for my $line (split /^/, $files) {
            if ($line =~ />>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, undef, $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;

    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: ", ref $files,
                 ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        $body //= '';

        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/} && !-d $1) {
            make_path($1) or bail_out("$name - Cannot create directory $1");
        }

        $body = expand_env_in_text($body, $name, $rand_ports);

        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;

        if ($date) {
            my $cmd = "TZ=GMT touch -t '$date' $HtmlDir/$fname";
            system($cmd) == 0
                or bail_out("Failed to run shell command: $cmd\n");
        }
    }
}

sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;

    my $name = $block->name;
    my $server_name = $block->server_name // $ServerName;
    my $err_log_file = $block->error_log_file || $ErrLogFile;

    master_on() if $UseHup;     # reloading is unreliable without a master

    my $http_config = expand_env_in_text($block->http_config, $name,
                                         $rand_ports) // '';
    $config //= '';

    if ($FilterHttpConfig) {
        $http_config = $FilterHttpConfig->($http_config);
    }

    my $extra_http_config = '';
    if (defined $PostponeOutput && $http_config !~ /\bpostpone_output\b/) {
        $PostponeOutput =~ /^\d+$/
            or bail_out("Bad TEST_NGINX_POSTPONE_OUTPUT value: "
                        . "$PostponeOutput\n");
        $extra_http_config .= "\n    postpone_output $PostponeOutput;\n";
    }

    my $temp_paths = '';
    for my $t (@TempPaths) {
        next if $http_config =~ /\b${t}_temp_path\b/;
        $temp_paths .= "    ${t}_temp_path $ServRoot/${t}_temp;\n";
    }

    my $main_config = $block->main_config // '';
    if ($LoadModules) {
        $main_config .= join ' ', map { "load_module $_;" }
                                  grep { $_ } split /\s+/, $LoadModules;
    }
    $main_config = expand_env_in_text($main_config, $name, $rand_ports);

    my $post_main_config = expand_env_in_text($block->post_main_config,
                                              $name, $rand_ports) // '';

    my $listen_opts = $ReusePort ? ' reuseport' : '';

    my $env = '';
    for my $v (@EnvToNginx) {
        my $q = $v =~ /\s/ ? "'$v'" : $v;
        $env .= "env $q;\n";
    }

    my $root_location = $NoRootLocation ? '' : <<_EOC_;
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $ver_server = '';
    if ($UseHup) {
        $ver_server = <<_EOC_;
    server {
        listen          $ServerPort$listen_opts;
        server_name     'Test-Nginx';

        location = /ver {
            return 200 '$ConfigVersion';
        }
    }
_EOC_
    }

    my $events = $EventType ? "    use $EventType;\n" : '';

    my $daemon = $UseValgrind ? 'off' : $DaemonEnabled;

    my $user = '';
    if (defined $WorkerUser) {
        $user = "user $WorkerUser;\n";
    } elsif ($> == 0) {
        $user = "user root;\n";
    }

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!\n");

    print $out <<_EOC_;
worker_processes  $Workers;
daemon $daemon;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
env MOCKEAGAIN_VERBOSE;
env MOCKEAGAIN;
env MOCKEAGAIN_WRITE_TIMEOUT_PATTERN;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env DYLD_INSERT_LIBRARIES;
env DYLD_FORCE_FLAT_NAMESPACE;
$env
$main_config

http {
    access_log $AccLogFile;

    default_type text/plain;
    keepalive_timeout  68;

$temp_paths
$http_config

    server {
        listen          $ServerPort$listen_opts;
        server_name     '$server_name';

        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }

$ver_server$extra_http_config
}

$post_main_config

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
$events}
env ASAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
$user
_EOC_

    close $out;
}


# ---- HUP reload ------------------------------------------------------

sub _get_ver () {
    my $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                     PeerPort => $ServerPort,
                                     Proto => 'tcp', Timeout => 2)
        or return '';
    print $sock "GET /ver HTTP/1.0\r\nHost: Test-Nginx\r\n\r\n";
    local $/;
    my $resp = <$sock> // '';
    close $sock;
    return $resp =~ /\A\S+ 200 .*?\r\n\r\n(.*)\z/s ? $1 : '';
}

# after HUP, wait until every worker serves the new configuration
sub test_config_version ($) {
    my $name = shift;
    my $nsucc = 0;

    for my $tries (1 .. 200) {
        if (_get_ver() eq $ConfigVersion) {
            sleep $TestNginxSleep if ++$nsucc == 5;
            return if $nsucc >= 20;
            next;
        }

        $nsucc = 0;
        my $wait = ($TestNginxSleep + $TestNginxSleep * $tries) * $tries / 2;
        sleep($wait > 1 ? 1 : $wait);
    }

    Test::More->builder->no_ending(1);
    Test::More::fail("$name - failed to reload configuration after 200 "
                     . "failed test requests");
}


# ---- starting nginx --------------------------------------------------

sub _nginx_cmd () {
    # same command line as upstream: with a binary built with
    # --error-log-path=stderr (Debian's), errors met while parsing the
    # configuration go to stderr, not to logs/error.log, under both
    my $cmd = "$NginxBinary -p $ServRoot/ -c $ConfFile > /dev/null";

    if ($UseValgrind) {
        my $opts = $UseValgrind =~ /^\d+$/
                   ? '--tool=memcheck --leak-check=full '
                     . '--show-possibly-lost=no'
                   : $UseValgrind;
        my $supp = -f 'valgrind.suppress'
                   ? ' --suppressions=valgrind.suppress' : '';
        $cmd = "valgrind --num-callers=100 -q $opts --gen-suppressions=all"
               . "$supp $cmd";
    }

    return $cmd;
}

sub _start_valgrind ($$) {
    my ($name, $cmd) = @_;

    warn "$name\n";

    my $pid = fork;
    bail_out("$name - fork() failed: $!") unless defined $pid;

    if ($pid == 0) {
        setpgrp;
        Test::More->builder->no_ending(1);
        $InSubprocess = 1;
        exec "exec $cmd" or POSIX::_exit(127);
    }

    $ChildPid = $pid;
    sleep $TestNginxSleep;
}

sub _stop_valgrind ($) {
    my $name = shift;

    if (defined $ChildPid) {
        kill_process($ChildPid, 1, $name);
        undef $ChildPid;
    }

    unlink $PidFile;
}

# Returns after the block's must_die checks, or after nginx is up.
sub _start_nginx ($$$) {
    my ($block, $must_die, $name) = @_;

    can_run($NginxBinary)
        or bail_out("$name - Cannot find the nginx executable in the PATH "
                    . "environment");

    my $cmd = _nginx_cmd();

    if ($UseValgrind && !defined $must_die) {
        _start_valgrind($name, $cmd);
        return 1;
    }

    my $waited = 0;
    my $i = 0;
    $ErrLogFilePos = 0;

    my $errfile = "$LogDir/nginx-start.stderr";

    while (1) {
        system "$cmd 2>$errfile";
        my $status = $?;

        # pass nginx's start-up stderr through, as upstream does
        my $stderr = '';
        if (open my $in, '<', $errfile) {
            $stderr = do { local $/; <$in> } // '';
            close $in;
            print STDERR $stderr;
        }
        unlink $errfile;

        if (defined $must_die) {
            if ($status == -1) {
                Test::More::fail("$name - failed to execute the nginx "
                                 . "command line");
            } elsif ($status & 128) {
                Test::More::fail("$name - nginx core dumped");
            } elsif (looks_like_number($must_die)) {
                Test::More::is($must_die, $status >> 8,
                               "$name - die with the expected exit code");
            } else {
                Test::More::isnt($status, 0, "$name - die as expected");
            }

            $CheckErrorLog->($block, undef, 0, $i, 0);

            if ($status == 0) {
                warn "WARNING: $name - nginx must die but it does not; "
                     . "killing it (req $i)\n";
                for (1 .. 15) {
                    last if -f $PidFile;
                    sleep $TestNginxSleep;
                }
                kill_process(get_pid_from_pidfile($name), 1, $name);
            }

            next if ++$i < $RepeatEach;
            return 0;
        }

        last if $status == 0;

        # a broken config will not get better: give up at once
        if ($stderr =~ /\[emerg\]/ && $stderr !~ /Address already in use/) {
            bail_out("$name - Cannot start nginx using command \"$cmd\" "
                     . "(status code $status).");
        }

        # usually the previous nginx still holding the port; retry
        $i++;
        my $delay = 0.1 * $i;
        $delay = 1 if $delay > 1;
        sleep $delay;
        $waited += $delay;
        next if $waited < 30;
        bail_out("$name - Cannot start nginx using command \"$cmd\" "
                 . "(status code $status).");
    }

    sleep $TestNginxSleep;
    return 1;
}

# HUP the running master with the new config; true when it worked
sub _reload_nginx ($$$$$) {
    my ($block, $config, $rand_ports, $pid, $name) = @_;

    setup_server_root(0);
    write_user_files($block, $rand_ports);
    write_config_file($block, $config, $rand_ports);

    kill('USR1', $pid) or return 0;     # reopen the removed logs
    sleep $TestNginxSleep;
    kill('HUP', $pid) or return 0;
    sleep $TestNginxSleep * 3;

    warn "$name\n" if $UseValgrind;

    if (defined $block->reload_fails) {
        sleep 0.3;
    } else {
        test_config_version($name);
    }

    return 1;
}


# ---- skip conditions -------------------------------------------------

sub _skip_info ($) {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            my ($n, $code) = ($1, $2);
            my $skip = eval $code;
            bail_out("$name - skip_eval - failed to eval the Perl code "
                     . "\"$code\": $@") if $@;
            return ($n, $skip, 'skip_eval');
        }
    }

    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)
                   (?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        my ($n, $op, $reason) = ($1, $2, $6);
        my $ver = get_canon_version($3, $4, $5);
        $reason ||= "nginx version $op $3.$4.$5";
        my $skip = eval "$NginxVersion $op $ver";
        return ($n, $skip, $reason);
    }

    return (undef, 0, undef);
}


# ---- the driver ------------------------------------------------------

sub run_tests () {
    $NginxVersion = get_nginx_version();

    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value('name', "$0 " . $block->name);
        run_test($block);
    }

    cleanup();
}

sub run_test ($) {
    my $block = shift;

    return if defined $block->SKIP;

    my $name = $block->name;
    my $rand_ports = {};

    my $first_time = $FirstTime;
    undef $FirstTime;

    local $LogLevel = $block->log_level || $LogLevel;
    local $UseValgrind = $UseValgrind;
    local $UseHup = $UseHup;

    my $must_die = $block->must_die;
    if (defined $must_die) {
        undef $UseValgrind;
        undef $UseHup;
    }

    my $config = expand_env_in_text($block->config, $name, $rand_ports);

    # upstream: a block without --- config reuses the running server
    my $should_restart = 1;
    if (!defined $config) {
        defined $PrevConfig
            or bail_out("$name - No '--- config' section specified and "
                        . "could not get previous one.");
        $should_restart = 0;
    }

    my $reloaded;
    my ($tests_to_skip, $should_skip, $skip_reason) = _skip_info($block);
    $skip_reason //= 'various reasons';

    if (!$should_skip && $should_restart) {
        $PrevConfig = $config;
        $ConfigVersion = join '', map { ('a' .. 'z')[rand 26] } 1 .. 10
            if $UseHup;

        my $running;
        if (-f $PidFile) {
            my $pid = get_pid_from_pidfile($name);
            if ($pid && is_running($pid)) {
                if ($UseHup && !$first_time
                    && _reload_nginx($block, $config, $rand_ports, $pid,
                                     $name))
                {
                    $running = $reloaded = 1;
                } else {
                    kill_process($pid, 1, $name);
                }
            }
            unlink $PidFile unless $running;
        }

        if (!$running) {
            setup_server_root($first_time);
            write_user_files($block, $rand_ports);
            write_config_file($block, $config, $rand_ports);
            _start_nginx($block, $must_die, $name) or return;
        }
    }

    if ($block->init) {
        eval $block->init;
        bail_out("$name - init failed: $@") if $@;
    }

    # after a HUP reload, skip the /ver polling traffic in the log
    $ErrLogFilePos = $reloaded ? (-s $ErrLogFile || 0) : 0;

    for my $i (1 .. $RepeatEach) {
        my ($tcp_socket, $tcp_query_file) = _start_tcp_server($block);

        write_user_files($block, $rand_ports) if $i > 1;

        if ($should_skip && defined $tests_to_skip) {
            SKIP: {
                Test::More::skip("$name - $skip_reason", $tests_to_skip);
            }
        } else {
            $RunTestHelper->($block, 0, $i - 1);
            _check_tcp_query($block, $tcp_socket, $tcp_query_file);
        }

        if (defined $tcp_socket) {
            if (defined $TcpServerPid) {
                kill_process($TcpServerPid, 1, $name);
                undef $TcpServerPid;
            }
            close $tcp_socket;
            unlink $tcp_query_file if $tcp_query_file;
        }
    }

    if (my $total = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (-s $ErrLogFile && open my $out, '>>', $total) {
            print $out "\n=== $0 $name\n";
            if (open my $in, '<', $ErrLogFile) {
                print $out $_ while <$in>;
                close $in;
            }
            close $out;
        }
    }

    if ($UseValgrind && !$UseHup) {
        _stop_valgrind($name);
    }
}


# ---- embedded TCP server (--- tcp_listen) ----------------------------

sub _listen_tcp ($$) {
    my ($target, $name) = @_;

    my ($sock, $err);
    for (1 .. 30) {
        if ($target =~ /^\d+$/) {
            $sock = IO::Socket::INET->new(LocalHost => '127.0.0.1',
                                          LocalPort => $target,
                                          Proto => 'tcp', Reuse => 1,
                                          Listen => 5);
        } elsif ($target =~ /\S+\.sock$/) {
            unlink $target if -e $target;
            $sock = IO::Socket::UNIX->new(Local => $target,
                                          Type => SOCK_STREAM,
                                          Listen => 5);
        } else {
            bail_out("$name - bad tcp_listen target: $target");
        }

        return $sock if $sock;
        $err = $!;
        last unless $err =~ /address already in use/i;
        warn "WARNING: failed to create the tcp listening socket: $err\n";
        sleep 1;
    }

    bail_out("$name - failed to create the tcp listening socket: $err");
}

sub _start_tcp_server ($) {
    my $block = shift;

    my $target = $block->tcp_listen;
    return unless defined $target;

    my $name = $block->name;
    my $reply = $block->tcp_reply;

    if (!defined $reply && !defined $block->tcp_shutdown) {
        bail_out("$name - no --- tcp_reply specified but --- tcp_listen "
                 . "is specified");
    }

    my $req_len = $block->tcp_query_len;
    my $query_file;
    if (defined $block->tcp_query || defined $req_len) {
        $req_len //= length $block->tcp_query;
        (undef, $query_file) = File::Temp::tempfile('tcp-query-XXXXXX',
                                                    TMPDIR => 1);
    }

    my $sock = _listen_tcp($target, $name);

    my $pid = fork;
    bail_out("$name - fork() failed: $!") unless defined $pid;

    if ($pid) {
        $TcpServerPid = $pid;
        return ($sock, $query_file);
    }

    # child: serve exactly one connection
    $SIG{QUIT} = $SIG{TERM} = sub { POSIX::_exit(0) };
    Test::More->builder->no_ending(1);
    $InSubprocess = 1;

    my $client;
    until ($client = $sock->accept) {
        sleep $TestNginxSleep;
    }

    my ($no_read, $no_write);
    if (defined(my $how = $block->tcp_shutdown)) {
        sleep parse_time($block->tcp_shutdown_delay)
            if $block->tcp_shutdown_delay;
        $client->shutdown($how);
        if ($how == 0 || $how == 2) { $no_read = 1 } else { $no_write = 1 }
    }

    my $buf = '';
    unless ($no_read) {
        while (1) {
            my $chunk;
            my $ok = $client->recv($chunk, 4096);
            last if !defined $ok || !defined $chunk || $chunk eq '';
            $buf .= $chunk;

            if ($query_file && open my $out, '>', $query_file) {
                binmode $out;
                print $out $buf;
                close $out;
            }

            last if !$req_len || length($buf) >= $req_len;
        }
    }

    my $delay = parse_time($block->tcp_reply_delay);
    sleep $delay if $delay;

    if (!$no_write && defined $reply) {
        $reply = $reply->($buf) if ref $reply eq 'CODE';
        for my $r (ref $reply eq 'ARRAY' ? @$reply : ($reply)) {
            defined syswrite($client, $r)
                or warn "WARNING: tcp server failed to send reply: $!\n";
        }
    }

    if (defined $block->tcp_no_close) {
        sleep 1 while 1;
    }

    close $client;
    close $sock;
    POSIX::_exit(0);
}

sub _check_tcp_query ($$$) {
    my ($block, $sock, $query_file) = @_;

    return unless defined $sock;

    my $name = $block->name;
    my $buf = '';
    if ($query_file && open my $in, '<', $query_file) {
        binmode $in;
        $buf = do { local $/; <$in> } // '';
        close $in;
    }

    if (defined $block->tcp_query) {
        is_str($buf, $block->tcp_query, "$name - tcp_query ok");
    }

    if (defined $block->tcp_query_len) {
        Test::More::is(length($buf), $block->tcp_query_len,
                       "$name - TCP query length ok");
    }
}


END {
    return if $InSubprocess;

    cleanup();

    if ($UseValgrind || !$ENV{TEST_NGINX_NO_CLEAN}) {
        local $?;
        if (defined $PidFile && -f $PidFile) {
            my $pid = get_pid_from_pidfile('END');
            if ($pid && is_running($pid)) {
                kill_process($pid, 1, 'END');
            } else {
                unlink $PidFile;
            }
        }
    }
}

require File::Find;

1;
