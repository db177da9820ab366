package pglocal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// owners names the users a folder on the way to the cluster may belong to:
// the running process, the user that runs the server, and root.
type owners struct {
	self   uint32 // effective uid of this process
	server uint32 // uid the server runs as (self unless we are root)
}

func (o owners) trusted(uid uint32) bool { return uid == 0 || uid == o.self || uid == o.server }

// UnsafePathError reports a folder or file on the way to the cluster that
// another user could control. Its message is one line that names the path
// and what to do.
type UnsafePathError struct {
	Path   string
	Reason string
}

func (e *UnsafePathError) Error() string {
	return fmt.Sprintf("refusing %s: %s", e.Path, e.Reason)
}

func unsafePath(path, format string, args ...any) error {
	return &UnsafePathError{Path: path, Reason: fmt.Sprintf(format, args...)}
}

// checkAncestors verifies that nobody but root and trusted owners can
// replace anything on the path to dir (dir itself excluded): every existing
// folder above it is owned by root or a trusted owner, and one writable by
// others has the sticky bit (like /tmp), so only an entry's owner can rename
// or remove it. A symbolic link on the way must belong to a trusted owner.
// Folders that do not exist yet are skipped: ensurePrivateDir creates them.
func checkAncestors(dir string, o owners) error {
	var parents []string
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		parents = append(parents, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	for i := len(parents) - 1; i >= 0; i-- {
		d := parents[i]
		var st syscall.Stat_t
		if err := syscall.Lstat(d, &st); err != nil {
			if errors.Is(err, syscall.ENOENT) {
				return nil
			}
			return fmt.Errorf("inspect %s: %w", d, err)
		}
		if !o.trusted(st.Uid) {
			return unsafePath(d, "it belongs to uid %d, not to us or root, so that user could redirect the database; choose another data_dir", st.Uid)
		}
		if st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
			continue // a trusted link; its target's folders are checked below it
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
			return unsafePath(d, "not a folder")
		}
		if st.Mode&0o022 != 0 && st.Mode&syscall.S_ISVTX == 0 {
			return unsafePath(d, "others may write to it (mode %04o, no sticky bit) and so replace the folders below it; choose another data_dir", st.Mode&0o7777)
		}
	}
	return nil
}

// ensurePrivateDir makes dir a private folder of uid: it creates it (mode
// 0700, without following a symbolic link in its place) when missing,
// gives a new folder to uid, and otherwise requires a real folder (not a
// symbolic link) owned by uid with no access for group or others. A folder
// that root or we own is handed over (chown) when allowChown is set. Missing
// folders above dir are created with parentMode. Anything else is refused
// with an UnsafePathError.
func ensurePrivateDir(dir string, uid, gid uint32, o owners, allowChown bool, parentMode fs.FileMode) error {
	if err := checkAncestors(dir, o); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), parentMode); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(dir), err)
	}
	created := false
	switch err := syscall.Mkdir(dir, 0o700); {
	case err == nil:
		created = true
	case errors.Is(err, syscall.EEXIST): // mkdir never follows a link in the last component
	default:
		return fmt.Errorf("create %s: %w", dir, &fs.PathError{Op: "mkdir", Path: dir, Err: err})
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		return fmt.Errorf("inspect %s: %w", dir, err)
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
		return unsafePath(dir, "it is a symbolic link; the database folders must be real folders owned by the user that runs PostgreSQL")
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return unsafePath(dir, "not a folder")
	}
	if st.Uid != uid {
		ours := st.Uid == 0 || st.Uid == o.self
		if !ours || !(created || allowChown) {
			return unsafePath(dir, "it belongs to uid %d, not uid %d; a folder another user made cannot hold the database", st.Uid, uid)
		}
		if st.Mode&0o077 != 0 {
			return unsafePath(dir, "mode %04o lets others in; run chmod 700 %s if it is yours", st.Mode&0o7777, dir)
		}
		// Lchown: never hand over what a link points to.
		if err := os.Lchown(dir, int(uid), int(gid)); err != nil {
			return fmt.Errorf("hand %s to the database user: %w", dir, err)
		}
		return nil
	}
	if st.Mode&0o077 != 0 {
		return unsafePath(dir, "mode %04o lets others in; run chmod 700 %s if it is yours", st.Mode&0o7777, dir)
	}
	return nil
}

// checkSocket verifies that the server socket in dir, if there is one, is a
// socket owned by the server user: a file planted by someone else would
// receive our connection.
func checkSocket(path string, uid uint32) error {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return nil
		}
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
		return unsafePath(path, "not a socket")
	}
	if st.Uid != uid {
		return unsafePath(path, "the socket belongs to uid %d, not to the database user (uid %d)", st.Uid, uid)
	}
	return nil
}
