package pglocal_test

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/storage/pglocal"
)

// nobody is the uid of another local user in these tests.
const nobody = 65534

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to act as another local user (chown)")
	}
}

func startErr(t *testing.T, dir string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := pglocal.Start(ctx, pglocal.Config{DataDir: dir})
	if err == nil {
		require.NoError(t, c.Stop(ctx))
	}
	return err
}

func owner(t *testing.T, path string) uint32 {
	t.Helper()
	var st syscall.Stat_t
	require.NoError(t, syscall.Lstat(path, &st))
	return st.Uid
}

func TestStartRefusesDataFolderOfAnotherUser(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	dir := dataDir(t)
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.Chown(dir, nobody, nobody))

	err := startErr(t, dir)
	require.ErrorContains(t, err, "refusing "+dir+": it belongs to uid 65534")
	require.NotContains(t, err.Error(), "\n", "one line")
	require.EqualValues(t, nobody, owner(t, dir), "the folder is not taken over")
	_, statErr := os.Stat(filepath.Join(dir, "pg"))
	require.ErrorIs(t, statErr, os.ErrNotExist, "nothing is written into it")
}

func TestStartRefusesClusterFolderOfAnotherUser(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	dir := dataDir(t)
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "pg"), 0o700))
	require.NoError(t, os.Chown(filepath.Join(dir, "pg"), nobody, nobody))

	require.ErrorContains(t, startErr(t, dir), "refusing "+filepath.Join(dir, "pg")+": it belongs to uid 65534")
}

func TestStartRefusesSymlinkedDataFolder(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	dir := dataDir(t)
	target := filepath.Join(filepath.Dir(dir), "elsewhere")
	require.NoError(t, os.Mkdir(target, 0o700))
	require.NoError(t, os.Symlink(target, dir))
	require.NoError(t, os.Lchown(dir, nobody, nobody))

	require.ErrorContains(t, startErr(t, dir), "refusing "+dir+": it is a symbolic link")
	require.EqualValues(t, 0, owner(t, target), "the link's target is not handed to the postgres user")
	entries, err := os.ReadDir(target)
	require.NoError(t, err)
	require.Empty(t, entries)
}

func TestStartRefusesSymlinkedClusterFolder(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	dir := dataDir(t)
	target := filepath.Join(filepath.Dir(dir), "planted")
	require.NoError(t, os.Mkdir(target, 0o700))
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.Symlink(target, filepath.Join(dir, "pg")))

	require.ErrorContains(t, startErr(t, dir), "refusing "+filepath.Join(dir, "pg")+": it is a symbolic link")
	require.EqualValues(t, 0, owner(t, target))
}

func TestStartRefusesOpenDataFolder(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.Chmod(dir, 0o777))

	require.ErrorContains(t, startErr(t, dir), "refusing "+dir+": mode 0777 lets others in; run chmod 700 "+dir)
	st, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o777), st.Mode().Perm(), "an open folder is refused, not silently kept or changed")
}

func TestStartRefusesFolderUnderOneOthersMayWrite(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o777)) // no sticky bit: anyone may rename our folder
	require.ErrorContains(t, startErr(t, dir), "refusing "+filepath.Dir(dir)+": others may write to it (mode 0777, no sticky bit)")
}

func TestStartRefusesFolderPlantedInSharedTemp(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	// A sticky world-writable folder like /tmp is fine to pass through, but
	// not a folder in it that another user made.
	shared := filepath.Dir(dataDir(t))
	require.NoError(t, os.Chmod(shared, 0o777|os.ModeSticky))
	dir := filepath.Join(shared, "driftwatch")
	require.NoError(t, os.Mkdir(dir, 0o777))
	require.NoError(t, os.Chown(dir, nobody, nobody))
	require.ErrorContains(t, startErr(t, dir), "refusing "+dir+": it belongs to uid 65534")
}

func TestStartAsRootRefusesDataFolderThePostgresUserCannotReach(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	dir := dataDir(t)
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o700))
	err := startErr(t, dir)
	require.ErrorContains(t, err, "the postgres user cannot enter "+filepath.Dir(dir))
	require.ErrorContains(t, err, pglocal.RootDataDir)
}

func TestStartAsRootHandsDataFolderToPostgresUser(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	requireBinaries(t)
	dir := dataDir(t)
	require.NoError(t, os.Mkdir(dir, 0o700)) // made by root, as an operator would
	require.NoError(t, startErr(t, dir))
	require.NotEqualValues(t, 0, owner(t, dir))
	require.Equal(t, owner(t, dir), owner(t, filepath.Join(dir, "pg", "data")))
	for _, d := range []string{dir, filepath.Join(dir, "pg"), filepath.Join(dir, "pg", "data")} {
		st, err := os.Stat(d)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o700), st.Mode().Perm(), d)
	}
}

func TestStartRefusesSwappedSocket(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	requireBinaries(t)
	ctx := context.Background()
	dir := dataDir(t)
	c, err := pglocal.Start(ctx, pglocal.Config{DataDir: dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, c.Stop(ctx)) }()

	u, err := url.Parse(c.URL())
	require.NoError(t, err)
	sock := filepath.Join(u.Query().Get("host"), ".s.PGSQL.5432")
	require.NoError(t, os.Rename(sock, sock+".real"))
	defer func() { require.NoError(t, os.Rename(sock+".real", sock)) }()
	// Another user's listener in place of the server's socket.
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer l.Close()
	require.NoError(t, os.Lchown(sock, nobody, nobody))
	accepted := make(chan struct{}, 1)
	go func() {
		if conn, err := l.Accept(); err == nil {
			accepted <- struct{}{}
			conn.Close()
		}
	}()

	err = startErr(t, dir)
	require.ErrorContains(t, err, "refusing "+sock+": the socket belongs to uid 65534")
	select {
	case <-accepted:
		t.Fatal("driftwatch connected to the planted socket")
	case <-time.After(100 * time.Millisecond):
	}
	l.Close()
}

func TestLongDataDirSocketFolderIsPrivateAndUnpredictable(t *testing.T) {
	t.Parallel()
	requireBinaries(t)
	ctx := context.Background()
	var hosts []string
	for range 2 {
		dir := filepath.Join(dataDir(t), strings.Repeat("long-directory-name-", 6))
		require.NoError(t, os.MkdirAll(filepath.Dir(dir), 0o755))
		c, err := pglocal.Start(ctx, pglocal.Config{DataDir: dir})
		require.NoError(t, err)
		u, err := url.Parse(c.URL())
		require.NoError(t, err)
		host := u.Query().Get("host")
		st, err := os.Lstat(host)
		require.NoError(t, err)
		require.True(t, st.IsDir())
		require.Equal(t, os.FileMode(0o700), st.Mode().Perm())
		hosts = append(hosts, host)
		require.NoError(t, c.Stop(ctx))
	}
	require.NotEqual(t, hosts[0], hosts[1], "the socket folder's name cannot be guessed from the data folder")
}

func TestDefaultDataDirIsNeverInTheSharedTempFolder(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "")
	d := pglocal.DefaultDataDir()
	if os.Geteuid() == 0 {
		require.Equal(t, pglocal.RootDataDir, d)
	} else {
		require.Empty(t, d, "no home: no default, rather than a guessable folder in /tmp")
	}
	_, err := pglocal.Start(context.Background(), pglocal.Config{})
	require.ErrorContains(t, err, "no data folder: set data_dir (or --data-dir)")
}
