// Package pglocal runs Driftwatch's embedded default PostgreSQL: a private
// cluster, created from the local PostgreSQL binaries in the data directory,
// that listens only on a unix socket.
//
// Several processes may use one data directory at once. Each Start takes a
// shared lock on DataDir/pglocal.users for as long as its Cluster is in use;
// starting and stopping happen under an exclusive lock on
// DataDir/pglocal.lock, so two invocations never double-start the server. The
// last user's Stop (the one that can upgrade to an exclusive users lock) shuts
// the server down; a process that dies without Stop leaves it running for the
// next Start to reuse.
//
// PostgreSQL refuses to run as root, so a root process runs initdb and pg_ctl
// as the "postgres" user when it exists, and hands DataDir to that user.
//
// The server trusts every connection on its socket, so nobody else may be
// able to reach, replace or redirect anything on the way to the data and the
// socket. Start creates missing folders with mode 0700 without following
// symbolic links, and refuses, with one line naming the path, a data,
// cluster or socket folder that is a symbolic link, belongs to another user
// or lets others in, a folder above them that another user owns or may write
// to without the sticky bit, and a socket that is not the server user's.
// Nothing is ever placed at a predictable path in a shared temporary folder:
// when DataDir is too deep for a unix socket path, the socket goes to a
// private folder with a random name.
package pglocal

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// RootDataDir is the data folder to use when running as root: the postgres
// user must be able to pass through every folder above the data folder,
// which it cannot do under root's home folder.
const RootDataDir = "/var/lib/driftwatch"

// DefaultDataDir returns the default data folder: $XDG_DATA_HOME/driftwatch,
// else ~/.local/share/driftwatch, and RootDataDir when running as root; ""
// without a home folder (never a guessable folder in a shared temporary
// folder).
func DefaultDataDir() string {
	if os.Geteuid() == 0 {
		return RootDataDir
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "driftwatch")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "driftwatch")
	}
	return ""
}

// Database is the database Start creates for Driftwatch.
const Database = "driftwatch"

const (
	superuser  = "postgres"
	socketPort = 5432 // only names the socket file: the server has no TCP listener
	// maxSocketPath is the longest unix socket path we use (sun_path is 108
	// bytes on Linux and 104 on macOS, including the NUL).
	maxSocketPath = 100
)

// Config configures Start.
type Config struct {
	// DataDir holds the cluster (DataDir/pg) and its lock files. Required.
	DataDir string
	// BinDir is the directory holding initdb, pg_ctl and postgres. Default:
	// PATH, then the usual install folders, newest version first.
	BinDir string
	// Logger receives progress messages. Default: discard.
	Logger *slog.Logger
}

// Cluster is a running embedded PostgreSQL used by this process.
type Cluster struct {
	cfg       Config
	bin       string
	pgDir     string // owned by the server user: data/, postgres.log
	dataDir   string // PGDATA
	socketDir string
	cred      *syscall.Credential // nil when we run the server as ourselves
	uid, gid  uint32              // the server user
	owners    owners
	users     *os.File // shared lock held while this Cluster is in use
	url       string
}

// Start starts the cluster in cfg.DataDir, creating it on first use, or
// reuses the one already running there.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("start embedded postgres: no data folder: set data_dir (or --data-dir), HOME or XDG_DATA_HOME, or set DATABASE_URL")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = cfg.Logger.With("component", "pglocal")
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("start embedded postgres: %w", err)
	}
	cfg.DataDir = dataDir
	bin, err := findBinDir(cfg.BinDir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, bin: bin}
	if err := c.chooseUser(); err != nil {
		return nil, err
	}
	if err := c.prepareDataDir(); err != nil {
		return nil, fmt.Errorf("start embedded postgres: %w", err)
	}

	startLock, err := lockFile(ctx, filepath.Join(dataDir, "pglocal.lock"), syscall.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("start embedded postgres: %w", err)
	}
	defer startLock.Close() // releases the lock

	if err := c.choosePaths(); err != nil {
		return nil, fmt.Errorf("start embedded postgres: %w", err)
	}
	if err := c.ensureStarted(ctx); err != nil {
		return nil, fmt.Errorf("start embedded postgres in %s: %w", c.pgDir, err)
	}
	c.users, err = lockFile(ctx, filepath.Join(dataDir, "pglocal.users"), syscall.LOCK_SH)
	if err != nil {
		return nil, fmt.Errorf("start embedded postgres: %w", err)
	}
	return c, nil
}

// URL returns a pgx connection URL for the driftwatch database.
func (c *Cluster) URL() string { return c.url }

// Stop releases this process's use of the cluster and shuts the server down
// (pg_ctl stop -m fast) if no other process is using it. Stop is idempotent.
func (c *Cluster) Stop(ctx context.Context) error {
	if c.users == nil {
		return nil
	}
	startLock, err := lockFile(ctx, filepath.Join(c.cfg.DataDir, "pglocal.lock"), syscall.LOCK_EX)
	if err != nil {
		return fmt.Errorf("stop embedded postgres: %w", err)
	}
	defer startLock.Close()

	// Closing drops our shared lock; if an exclusive lock is then free, nobody
	// else uses the cluster (new users wait on startLock, which we hold).
	users := c.users
	c.users = nil
	if err := users.Close(); err != nil {
		return fmt.Errorf("stop embedded postgres: release users lock: %w", err)
	}
	last, err := os.OpenFile(filepath.Join(c.cfg.DataDir, "pglocal.users"), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("stop embedded postgres: %w", err)
	}
	defer last.Close()
	if err := syscall.Flock(int(last.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		c.cfg.Logger.DebugContext(ctx, "other processes still use the cluster; leaving it running")
		return nil
	}
	if !c.running(ctx) {
		return nil
	}
	c.cfg.Logger.InfoContext(ctx, "stopping embedded postgres", "data_dir", c.dataDir)
	if out, err := c.run(ctx, "pg_ctl", "stop", "-D", c.dataDir, "-m", "fast", "-w", "-t", "60"); err != nil {
		return fmt.Errorf("stop embedded postgres: pg_ctl stop: %w: %s", err, out)
	}
	if c.socketDir != c.pgDir {
		_ = os.Remove(c.socketDir) // the short fallback dir; fails harmlessly unless empty
	}
	return nil
}

// chooseUser decides which OS user runs the server.
func (c *Cluster) chooseUser() error {
	self := uint32(os.Geteuid())
	c.owners = owners{self: self, server: self}
	c.uid, c.gid = self, uint32(os.Getegid())
	if self != 0 {
		return nil
	}
	u, err := user.Lookup(superuser)
	if err != nil {
		return errors.New("start embedded postgres: PostgreSQL refuses to run as root and there is no \"postgres\" user: " +
			"install PostgreSQL from your distribution (it creates one), run driftwatch as a normal user, or set DATABASE_URL")
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("start embedded postgres: postgres user: %w", err)
	}
	c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	c.uid, c.gid = uint32(uid), uint32(gid)
	c.owners.server = c.uid
	return nil
}

// prepareDataDir makes DataDir a private folder of the server user (as
// root: handed to the postgres user) and checks that nobody else controls a
// folder above it.
func (c *Cluster) prepareDataDir() error {
	parentMode := fs.FileMode(0o700)
	if c.cred != nil {
		parentMode = 0o755 // the postgres user must pass through folders root creates
	}
	if err := ensurePrivateDir(c.cfg.DataDir, c.uid, c.gid, c.owners, true, parentMode); err != nil {
		return err
	}
	if c.cred != nil {
		if blocked := unreachableAt(filepath.Dir(c.cfg.DataDir), c.cred); blocked != "" {
			return fmt.Errorf("the postgres user cannot enter %s, so it cannot reach the data folder %s: "+
				"set data_dir (or --data-dir) to a folder it can reach, such as %s, or set DATABASE_URL", blocked, c.cfg.DataDir, RootDataDir)
		}
	}
	return nil
}

// choosePaths places the cluster in DataDir/pg, and the socket there when
// its path is short enough, else in a private folder with a random name in
// the temporary folder, remembered in the cluster's configuration so every
// process finds the same socket.
func (c *Cluster) choosePaths() error {
	c.pgDir = filepath.Join(c.cfg.DataDir, "pg")
	c.dataDir = filepath.Join(c.pgDir, "data")
	if err := ensurePrivateDir(c.pgDir, c.uid, c.gid, c.owners, true, 0o700); err != nil {
		return err
	}
	c.socketDir = c.pgDir
	if len(c.socketPath()) > maxSocketPath {
		dir, err := c.shortSocketDir()
		if err != nil {
			return err
		}
		c.socketDir = dir
	}
	if err := ensurePrivateDir(c.socketDir, c.uid, c.gid, c.owners, true, 0o700); err != nil {
		return err
	}
	q := url.Values{"host": {c.socketDir}, "port": {strconv.Itoa(socketPort)}, "sslmode": {"disable"}}
	c.url = (&url.URL{Scheme: "postgres", User: url.User(superuser), Path: "/" + Database, RawQuery: q.Encode()}).String()
	return nil
}

func (c *Cluster) socketPath() string {
	return filepath.Join(c.socketDir, ".s.PGSQL."+strconv.Itoa(socketPort))
}

// shortSocketDir returns the socket folder named in the cluster's
// driftwatch.conf when it is still there, else a new private folder with an
// unpredictable name (os.MkdirTemp) in the temporary folder.
func (c *Cluster) shortSocketDir() (string, error) {
	if b, err := os.ReadFile(filepath.Join(c.dataDir, "driftwatch.conf")); err == nil {
		if m := socketDirRE.FindSubmatch(b); m != nil {
			dir := strings.ReplaceAll(string(m[1]), "''", "'")
			if _, err := os.Lstat(dir); err == nil && dir != c.pgDir {
				return dir, nil // ensurePrivateDir still vets it
			}
		}
	}
	dir, err := os.MkdirTemp("", "dwpg-")
	if err != nil {
		return "", fmt.Errorf("create socket folder: %w", err)
	}
	return dir, nil
}

var socketDirRE = regexp.MustCompile(`(?m)^unix_socket_directories = '((?:[^']|'')*)'$`)

func (c *Cluster) ensureStarted(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); err != nil {
		if err := c.initdb(ctx); err != nil {
			return err
		}
	}
	if err := c.writeConf(); err != nil {
		return err
	}
	if !c.running(ctx) {
		c.cfg.Logger.InfoContext(ctx, "starting embedded postgres", "data_dir", c.dataDir, "socket_dir", c.socketDir)
		out, err := c.run(ctx, "pg_ctl", "start", "-D", c.dataDir, "-l", filepath.Join(c.pgDir, "postgres.log"), "-w", "-t", "60")
		if err != nil {
			return fmt.Errorf("pg_ctl start: %w: %s (see %s)", err, out, filepath.Join(c.pgDir, "postgres.log"))
		}
	} else {
		c.cfg.Logger.DebugContext(ctx, "reusing running embedded postgres", "data_dir", c.dataDir)
	}
	// The folders are private, so only the server user could have put the
	// socket there; check anyway before we send our connection to it.
	if err := ensurePrivateDir(c.socketDir, c.uid, c.gid, c.owners, false, 0o700); err != nil {
		return err
	}
	if err := checkSocket(c.socketPath(), c.uid); err != nil {
		return err
	}
	return c.ensureDatabase(ctx)
}

func (c *Cluster) initdb(ctx context.Context) error {
	c.cfg.Logger.InfoContext(ctx, "creating embedded postgres cluster", "data_dir", c.dataDir)
	if err := os.RemoveAll(c.dataDir); err != nil { // leftovers of an interrupted initdb
		return err
	}
	// Trust is safe: there is no TCP listener and the socket directory is 0700.
	out, err := c.run(ctx, "initdb", "-D", c.dataDir, "-U", superuser, "--auth-local=trust",
		"--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C")
	if err != nil {
		return fmt.Errorf("initdb: %w: %s", err, out)
	}
	f, err := os.OpenFile(filepath.Join(c.dataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString("\n# Written by driftwatch (pglocal); rewritten at each start.\ninclude_if_exists = 'driftwatch.conf'\n")
	return errors.Join(err, f.Close())
}

// writeConf points the server at the current socket dir, with no TCP listener.
func (c *Cluster) writeConf() error {
	conf := fmt.Sprintf("listen_addresses = ''\nport = %d\nunix_socket_directories = '%s'\nunix_socket_permissions = 0700\n",
		socketPort, strings.ReplaceAll(c.socketDir, "'", "''"))
	p := filepath.Join(c.dataDir, "driftwatch.conf")
	if old, err := os.ReadFile(p); err == nil && string(old) == conf {
		return nil
	}
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		return err
	}
	if c.cred != nil {
		return os.Chown(p, int(c.cred.Uid), int(c.cred.Gid))
	}
	return nil
}

func (c *Cluster) running(ctx context.Context) bool {
	_, err := c.run(ctx, "pg_ctl", "status", "-D", c.dataDir)
	return err == nil
}

func (c *Cluster) ensureDatabase(ctx context.Context) error {
	u, err := url.Parse(c.url)
	if err != nil {
		return err
	}
	u.Path = "/postgres"
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", Database).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", Database, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+Database); err != nil {
			return fmt.Errorf("create database %s: %w", Database, err)
		}
	}
	return nil
}

// run runs a PostgreSQL program as the server user. Output goes to a file,
// not a pipe, because pg_ctl start leaves the server running behind it.
func (c *Cluster) run(ctx context.Context, prog string, args ...string) (string, error) {
	out, err := os.CreateTemp("", "pglocal-*.out")
	if err != nil {
		return "", err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, prog), args...)
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	// Own process group: a Ctrl-C meant for driftwatch must not reach the
	// server that other processes may share.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.cred}
	runErr := cmd.Run()
	b, _ := os.ReadFile(out.Name())
	return string(bytes.TrimSpace(b)), runErr
}

// lockWaitMax bounds how long Start and Stop wait for another process that
// is starting or stopping the cluster (initdb and pg_ctl take seconds; a
// longer wait means that process is stuck, and an error beats a hang).
const lockWaitMax = 3 * time.Minute

// lockFile opens path and flocks it (how: LOCK_SH or LOCK_EX), waiting until
// ctx is done or lockWaitMax has passed.
func lockFile(ctx context.Context, path string, how int) (*os.File, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, lockWaitMax,
		fmt.Errorf("another process has held %s for %s: is a driftwatch process stuck starting or stopping the embedded PostgreSQL?", path, lockWaitMax))
	defer cancel()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	for delay := time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// unreachableAt returns the first folder on the way to dir (included) that
// cred's user may not traverse, or "" when it may reach dir.
func unreachableAt(dir string, cred *syscall.Credential) string {
	var parents []string
	for d := dir; ; d = filepath.Dir(d) {
		parents = append(parents, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	for i := len(parents) - 1; i >= 0; i-- {
		var st syscall.Stat_t
		if err := syscall.Stat(parents[i], &st); err != nil {
			return parents[i]
		}
		perm := st.Mode & 0o777
		var ok bool
		switch {
		case st.Uid == cred.Uid:
			ok = perm&0o100 != 0
		case st.Gid == cred.Gid:
			ok = perm&0o010 != 0
		default:
			ok = perm&0o001 != 0
		}
		if !ok {
			return parents[i]
		}
	}
	return ""
}

// searchDirs lists where findBinDir looks after PATH, newest version first.
func searchDirs() []string {
	var dirs []string
	for _, pattern := range []string{"/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/opt/postgresql*/bin", "/usr/local/opt/postgresql*/bin"} {
		m, _ := filepath.Glob(pattern)
		slices.SortFunc(m, func(a, b string) int { return cmp.Compare(versionOf(b), versionOf(a)) })
		dirs = append(dirs, m...)
	}
	return dirs
}

// versionOf extracts the first number in a path (e.g. 15 from
// /usr/lib/postgresql/15/bin or postgresql@16), 0 if none.
func versionOf(p string) int {
	start := strings.IndexAny(p, "0123456789")
	if start < 0 {
		return 0
	}
	end := start
	for end < len(p) && p[end] >= '0' && p[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(p[start:end])
	return n
}

var programs = []string{"initdb", "pg_ctl", "postgres"}

func hasPrograms(dir string) bool {
	for _, p := range programs {
		if st, err := os.Stat(filepath.Join(dir, p)); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

func findBinDir(configured string) (string, error) {
	if configured != "" {
		if hasPrograms(configured) {
			return configured, nil
		}
		return "", fmt.Errorf("PostgreSQL binaries (initdb, pg_ctl, postgres) not found in BinDir %s", configured)
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && hasPrograms(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		if hasPrograms(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	for _, d := range searchDirs() {
		if hasPrograms(d) {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL binaries not found (looked in PATH, /usr/lib/postgresql/*/bin, /usr/local/pgsql/bin, " +
		"/opt/homebrew/opt/postgresql*/bin, /usr/local/opt/postgresql*/bin): install PostgreSQL " +
		"(e.g. `apt-get install postgresql`) or set DATABASE_URL")
}
