package node

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/banyancloud/banyan/cluster/pki"
)

// The data dir holds (paths relative to it):
//
//	node.json            this box's identity and addresses; written last, so its presence
//	                     marks a complete data dir
//	tls/ca.pem           cluster CA certificate
//	tls/ca-key.pem       cluster CA key (every node can admit new boxes)
//	tls/node.pem         this node's certificate
//	tls/node-key.pem     this node's key
//	keys/gossip.key      memberlist encryption key (hex)
//	keys/cluster.key     key for secrets at rest (hex)
//	join-token           the token new boxes join with (the founding node only)
//	peers.json           gossip addresses last seen, to rejoin after a restart
//	raft/                Raft log (raft.db) and snapshots
//	aws/                 aws-cli credentials and config (the founding node)
//	LOCK                 held while a server runs
const (
	nodeFile      = "node.json"
	peersFile     = "peers.json"
	joinTokenFile = "join-token"
	lockFile      = "LOCK"
	dataDirFormat = 1
)

// initArtifacts are the entries a data dir can hold before node.json is written, so a
// first start that crashed half way can be redone.
var initArtifacts = map[string]bool{"tls": true, "keys": true, lockFile: true, ".init": true}

// ErrNotInitialized: the data dir holds no cluster yet.
var ErrNotInitialized = errors.New("data dir not initialized")

// Identity is node.json.
type Identity struct {
	Format        int       `json:"format"`
	ClusterID     string    `json:"cluster_id"`
	Name          string    `json:"name"`
	BindAddr      string    `json:"bind_addr"`
	AdvertiseAddr string    `json:"advertise_addr"`
	RPCPort       int       `json:"rpc_port"`
	GossipPort    int       `json:"gossip_port"`
	APIPort       int       `json:"api_port"`
	HTTPSPort     int       `json:"https_port,omitempty"`
	Founder       bool      `json:"founder,omitempty"` // created the cluster
	CreatedAt     time.Time `json:"created_at"`
}

// Secrets are the cluster-wide keys and this node's certificate.
type Secrets struct {
	CACert, CAKey     []byte
	NodeCert, NodeKey []byte
	GossipKey         []byte
	ClusterKey        []byte
}

// DataDir is an opened, validated data dir.
type DataDir struct {
	Path     string
	Identity Identity
	Secrets  Secrets
	CA       *pki.CA
	TLS      *pki.Identity
}

// Open loads and validates the data dir at path. It returns ErrNotInitialized (and
// changes nothing) if path is missing or holds no cluster; any other error means the
// dir is unreadable or corrupt and must not be touched.
func Open(path string) (*DataDir, error) {
	entries, err := os.ReadDir(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotInitialized
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read data dir %s: %w", path, err)
	}
	b, err := os.ReadFile(filepath.Join(path, nodeFile))
	if errors.Is(err, os.ErrNotExist) {
		for _, e := range entries {
			if !initArtifacts[e.Name()] {
				return nil, fmt.Errorf("data dir %s is not empty and holds no %s: it is not a Banyan data dir (or it is damaged); use an empty or new folder", path, nodeFile)
			}
		}
		return nil, ErrNotInitialized
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", filepath.Join(path, nodeFile), err)
	}
	d := &DataDir{Path: path}
	if err := json.Unmarshal(b, &d.Identity); err != nil {
		return nil, fmt.Errorf("%s is corrupt: %w", filepath.Join(path, nodeFile), err)
	}
	if d.Identity.Format != dataDirFormat || d.Identity.Name == "" || d.Identity.ClusterID == "" || d.Identity.AdvertiseAddr == "" {
		return nil, fmt.Errorf("%s is corrupt or from an unsupported version (format %d)", filepath.Join(path, nodeFile), d.Identity.Format)
	}
	s := &d.Secrets
	for _, f := range []struct {
		name string
		dst  *[]byte
		hex  bool
	}{
		{"tls/ca.pem", &s.CACert, false}, {"tls/ca-key.pem", &s.CAKey, false},
		{"tls/node.pem", &s.NodeCert, false}, {"tls/node-key.pem", &s.NodeKey, false},
		{"keys/gossip.key", &s.GossipKey, true}, {"keys/cluster.key", &s.ClusterKey, true},
	} {
		raw, err := os.ReadFile(filepath.Join(path, f.name))
		if err != nil {
			return nil, fmt.Errorf("data dir %s is damaged: %w", path, err)
		}
		if f.hex {
			if raw, err = hex.DecodeString(string(trimNL(raw))); err != nil || len(raw) != 32 {
				return nil, fmt.Errorf("data dir %s is damaged: %s is not a 32-byte hex key", path, f.name)
			}
		}
		*f.dst = raw
	}
	if d.CA, err = pki.ParseCA(s.CACert, s.CAKey); err != nil {
		return nil, fmt.Errorf("data dir %s is damaged: %w", path, err)
	}
	if d.TLS, err = pki.LoadIdentity(s.CACert, s.NodeCert, s.NodeKey); err != nil {
		return nil, fmt.Errorf("data dir %s is damaged: %w", path, err)
	}
	return d, nil
}

// Create writes a new data dir. Files go in place one by one and node.json goes last,
// so a crash part way leaves a dir that Open reports as not initialized.
func Create(path string, id Identity, s Secrets) (*DataDir, error) {
	id.Format = dataDirFormat
	if id.CreatedAt.IsZero() {
		id.CreatedAt = time.Now().UTC()
	}
	for _, dir := range []string{path, filepath.Join(path, "tls"), filepath.Join(path, "keys")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("cannot create data dir: %w", err)
		}
	}
	files := []struct {
		name string
		data []byte
	}{
		{"tls/ca.pem", s.CACert}, {"tls/ca-key.pem", s.CAKey},
		{"tls/node.pem", s.NodeCert}, {"tls/node-key.pem", s.NodeKey},
		{"keys/gossip.key", []byte(hex.EncodeToString(s.GossipKey) + "\n")},
		{"keys/cluster.key", []byte(hex.EncodeToString(s.ClusterKey) + "\n")},
	}
	for _, f := range files {
		if err := WriteFileAtomic(filepath.Join(path, f.name), f.data, 0o600); err != nil {
			return nil, err
		}
	}
	b, _ := jsonIndent(id)
	if err := WriteFileAtomic(filepath.Join(path, nodeFile), b, 0o600); err != nil {
		return nil, err
	}
	return Open(path)
}

// WriteFileAtomic writes data to path through a synced temporary file and a rename, so
// readers and crashes see the old content or the new, never a mix.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// NewKey returns 32 random bytes.
func NewKey() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return k
}

// NewClusterID returns a short random cluster ID.
func NewClusterID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// ReadPeers returns the gossip addresses saved by the last run.
func (d *DataDir) ReadPeers() []string {
	b, err := os.ReadFile(filepath.Join(d.Path, peersFile))
	if err != nil {
		return nil
	}
	var peers []string
	json.Unmarshal(b, &peers)
	return peers
}

// WritePeers saves the gossip addresses of the members now known.
func (d *DataDir) WritePeers(peers []string) error {
	b, _ := json.Marshal(peers)
	return WriteFileAtomic(filepath.Join(d.Path, peersFile), b, 0o600)
}

// WriteJoinToken writes the token that new boxes join with.
func (d *DataDir) WriteJoinToken(tok pki.Token) error {
	return WriteFileAtomic(filepath.Join(d.Path, joinTokenFile), []byte(tok.String()+"\n"), 0o600)
}

// JoinTokenPath is where the founding node writes the join token.
func (d *DataDir) JoinTokenPath() string { return filepath.Join(d.Path, joinTokenFile) }

func jsonIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}
