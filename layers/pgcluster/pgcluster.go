// Package pgcluster runs a private PostgreSQL cluster from the system's
// PostgreSQL binaries in a data folder: initialised on first use, started
// on a free loopback port with a Unix socket in the folder, and stopped on
// Close. It is how `hexward serve` gets a PostGIS without DATABASE_URL, and
// how the tests get throwaway databases.
//
// PostgreSQL refuses to run as root; when the process is root the cluster
// runs as the system's "postgres" user, which owns the data folder.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Cluster is a running private PostgreSQL.
type Cluster struct {
	Dir  string // data folder
	Port int
	bin  string
	cred *syscall.Credential
	uid  int
	gid  int
}

// BinDir finds the newest installed PostgreSQL's bin folder (Debian keeps
// them in /usr/lib/postgresql/N/bin), or the folder of pg_ctl on PATH.
func BinDir() (string, error) {
	if d := os.Getenv("PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("pgcluster: no PostgreSQL binaries found (install postgresql, or set PG_BIN)")
}

func version(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// Start initialises dir when it holds no cluster yet and starts PostgreSQL
// on a free loopback port. The cluster trusts local connections from the
// user "postgres" only, over the socket in dir and 127.0.0.1.
func Start(ctx context.Context, dir string) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, bin: bin, uid: -1, gid: -1}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("pgcluster: running as root needs the system user postgres: %w", err)
		}
		c.uid, _ = strconv.Atoi(u.Uid)
		c.gid, _ = strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(c.uid), Gid: uint32(c.gid)}
	}
	// Parents are made searchable so that the postgres user can reach the
	// folder when we run as root; the folder itself is private.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return nil, err
	}
	if c.cred != nil {
		if err := os.Chown(dir, c.uid, c.gid); err != nil {
			return nil, err
		}
		if err := reachable(filepath.Dir(dir), c.uid); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		if err := c.run(ctx, "initdb", "-D", dir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"); err != nil {
			return nil, err
		}
	}
	// A cluster left running by a killed process: stop it first.
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); err == nil {
		_ = c.run(ctx, "pg_ctl", "-D", dir, "-m", "fast", "-w", "stop")
		_ = os.Remove(filepath.Join(dir, "postmaster.pid"))
	}
	var lastErr error
	for range 5 {
		if c.Port, err = freePort(); err != nil {
			return nil, err
		}
		if lastErr = c.Resume(ctx); lastErr == nil {
			return c, nil
		}
	}
	return nil, lastErr
}

// Resume starts a stopped cluster again on the same port.
func (c *Cluster) Resume(ctx context.Context) error {
	opts := strings.Join([]string{
		"-p", strconv.Itoa(c.Port), "-k", c.Dir, "-h", "127.0.0.1",
		"-c", "fsync=on", "-c", "max_connections=200", "-c", "shared_buffers=256MB",
		"-c", "jit=off", "-c", "max_parallel_workers_per_gather=0",
	}, " ")
	return c.run(ctx, "pg_ctl", "-D", c.Dir, "-o", opts, "-l", filepath.Join(c.Dir, "server.log"), "-w", "-t", "60", "start")
}

// URL is the connection string for database db.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// Stop stops the cluster (fast shutdown: sessions are ended, committed data
// is kept).
func (c *Cluster) Stop() error {
	return c.run(context.Background(), "pg_ctl", "-D", c.Dir, "-m", "fast", "-w", "stop")
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = c.Dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgcluster: %s: %w\n%s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// reachable checks that user uid may search every folder from dir up to
// the root, as PostgreSQL running as that user must.
func reachable(dir string, uid int) error {
	for d := dir; ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if ok && int(st.Uid) != uid && info.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("pgcluster: the postgres user cannot enter %s (mode %v); use a --data folder under searchable folders or chmod o+x it", d, info.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
