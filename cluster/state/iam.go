package state

import (
	"math"
	"time"

	"github.com/hashicorp/go-memdb"
)

// IAM state: accounts (tenants) and everything inside them, kept as entities in one table
// keyed by kind, account and name. The IAM front end (api/iam) owns the AWS semantics;
// it changes entities with IAMWrite, an atomic batch of compare-and-set puts and deletes,
// so that concurrent API calls on different nodes cannot overwrite each other: a batch
// built from a stale read fails with CodeConflict and the front end re-reads and retries.

// Entity kinds.
const (
	KindAccount         = "account"
	KindUser            = "user"
	KindGroup           = "group"
	KindRole            = "role"
	KindPolicy          = "policy" // customer managed policy
	KindAccessKey       = "accesskey"
	KindInstanceProfile = "instanceprofile"
	KindLoginProfile    = "loginprofile"
)

const tableIAM = "iam"

// Entity is one IAM object. Exactly one of the typed bodies is set, matching Kind.
type Entity struct {
	// ID is "kind/account/name", the primary key; the FSM sets it.
	ID      string
	Kind    string
	Account string // owning account ID; "" for accounts themselves
	Name    string // unique within kind and account (account ID, user name, key ID, ...)
	// Alt is a second globally unique key, "kind/value": "accesskey/AKIA..." for access
	// keys (found by ID alone), "user/ACCOUNT/lowercased-name" for names IAM keeps unique
	// without regard to case. Empty when the kind has none.
	Alt         string `cbor:",omitempty"`
	CreateIndex uint64
	ModifyIndex uint64

	AccountBody     *Account         `cbor:",omitempty"`
	User            *User            `cbor:",omitempty"`
	Group           *Group           `cbor:",omitempty"`
	Role            *Role            `cbor:",omitempty"`
	Policy          *ManagedPolicy   `cbor:",omitempty"`
	AccessKey       *AccessKey       `cbor:",omitempty"`
	InstanceProfile *InstanceProfile `cbor:",omitempty"`
	LoginProfile    *LoginProfile    `cbor:",omitempty"`
}

// Key is the entity's primary key.
func (e *Entity) Key() string { return iamKey(e.Kind, e.Account, e.Name) }

func iamKey(kind, account, name string) string { return kind + "/" + account + "/" + name }

// Account is a tenant with its own root user.
type Account struct {
	ID        string
	Name      string
	Email     string
	Admin     bool // the cluster's admin account, created with the cluster
	CreatedAt time.Time
}

// Tag is an IAM tag.
type Tag struct{ Key, Value string }

// Principal fields shared by users, groups and roles.
type principalPolicies struct {
	Inline   map[string]string `cbor:",omitempty"` // policy name -> document
	Attached []string          `cbor:",omitempty"` // managed policy ARNs
}

// User is an IAM user.
type User struct {
	ID        string // AIDA...
	Name      string
	Path      string
	ARN       string
	CreatedAt time.Time
	Tags      []Tag    `cbor:",omitempty"`
	Groups    []string `cbor:",omitempty"` // group names
	Boundary  string   `cbor:",omitempty"` // permissions boundary policy ARN
	principalPolicies
}

// Group is an IAM group.
type Group struct {
	ID        string
	Name      string
	Path      string
	ARN       string
	CreatedAt time.Time
	principalPolicies
}

// Role is an IAM role.
type Role struct {
	ID                 string // AROA...
	Name               string
	Path               string
	ARN                string
	Description        string
	TrustPolicy        string
	MaxSessionDuration int32
	CreatedAt          time.Time
	Tags               []Tag  `cbor:",omitempty"`
	Boundary           string `cbor:",omitempty"`
	principalPolicies
}

// PolicyVersion is one version of a managed policy.
type PolicyVersion struct {
	ID        string // v1, v2, ...
	Document  string
	CreatedAt time.Time
}

// ManagedPolicy is a customer managed policy.
type ManagedPolicy struct {
	ID             string // ANPA...
	Name           string
	Path           string
	ARN            string
	Description    string
	DefaultVersion string
	NextVersion    int
	Versions       []PolicyVersion
	Attachments    int
	CreatedAt      time.Time
	UpdatedAt      time.Time
	Tags           []Tag `cbor:",omitempty"`
}

// AccessKey is a long-term access key. The secret is sealed with the cluster key before
// it is submitted, so neither the Raft log nor snapshots hold it in the clear.
type AccessKey struct {
	ID           string // AKIA...
	UserName     string // "" for the account's root user
	SecretSealed []byte
	Status       string // Active, Inactive
	CreatedAt    time.Time
	LastUsed     time.Time `cbor:",omitempty"`
}

// InstanceProfile is an IAM instance profile.
type InstanceProfile struct {
	ID        string
	Name      string
	Path      string
	ARN       string
	Roles     []string `cbor:",omitempty"`
	CreatedAt time.Time
	Tags      []Tag `cbor:",omitempty"`
}

// LoginProfile is a user's console password (hashed).
type LoginProfile struct {
	UserName      string
	PasswordHash  []byte
	ResetRequired bool
	CreatedAt     time.Time
}

// AnyIndex makes a put or delete unconditional.
const AnyIndex = math.MaxUint64

// IAMPut writes an entity. ExpectIndex 0 means it must not exist yet (create); AnyIndex
// means no check; anything else must equal the stored ModifyIndex.
type IAMPut struct {
	Entity      Entity
	ExpectIndex uint64
}

// IAMDelete removes an entity, with the same ExpectIndex rules (0 is not allowed).
type IAMDelete struct {
	Kind, Account, Name string
	ExpectIndex         uint64
}

// IAMRequire is a precondition: the entity exists (at ExpectIndex, unless AnyIndex), or
// with Absent, does not.
type IAMRequire struct {
	Kind, Account, Name string
	ExpectIndex         uint64
	Absent              bool
}

// IAMWrite applies its requirements, deletes and puts atomically, or none of them.
type IAMWrite struct {
	Require []IAMRequire `cbor:",omitempty"`
	Delete  []IAMDelete  `cbor:",omitempty"`
	Put     []IAMPut     `cbor:",omitempty"`
}

func (*IAMWrite) CommandType() CommandType { return CmdIAMWrite }

func init() {
	registerTable(&memdb.TableSchema{
		Name: tableIAM,
		Indexes: map[string]*memdb.IndexSchema{
			"id":  {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			"alt": {Name: "alt", Unique: true, AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "Alt"}},
		},
	}, func() any { return new(Entity) })
	registerCommand("IAMWrite", applyIAMWrite)
}

func iamGet(tx *memdb.Txn, kind, account, name string) (*Entity, error) {
	obj, err := tx.First(tableIAM, "id", iamKey(kind, account, name))
	if err != nil || obj == nil {
		return nil, err
	}
	return obj.(*Entity), nil
}

func checkIndex(cur *Entity, expect uint64, what string) error {
	switch {
	case cur == nil && expect == 0:
		return nil
	case cur == nil:
		return Errorf(CodeNotFound, "%s does not exist", what)
	case expect == 0:
		return Errorf(CodeAlreadyExists, "%s already exists", what)
	case expect != AnyIndex && cur.ModifyIndex != expect:
		return Errorf(CodeConflict, "%s was changed concurrently; retry", what)
	}
	return nil
}

func applyIAMWrite(tx *Txn, c *IAMWrite) (any, error) {
	for _, r := range c.Require {
		cur, err := iamGet(tx.Txn, r.Kind, r.Account, r.Name)
		if err != nil {
			return nil, err
		}
		what := iamKey(r.Kind, r.Account, r.Name)
		if r.Absent {
			if cur != nil {
				return nil, Errorf(CodeAlreadyExists, "%s already exists", what)
			}
			continue
		}
		if cur == nil {
			return nil, Errorf(CodeNotFound, "%s does not exist", what)
		}
		if r.ExpectIndex != AnyIndex && r.ExpectIndex != 0 && cur.ModifyIndex != r.ExpectIndex {
			return nil, Errorf(CodeConflict, "%s was changed concurrently; retry", what)
		}
	}
	for _, d := range c.Delete {
		cur, err := iamGet(tx.Txn, d.Kind, d.Account, d.Name)
		if err != nil {
			return nil, err
		}
		if d.ExpectIndex == 0 {
			return nil, Errorf(CodeInvalid, "delete of %s needs an expected index", iamKey(d.Kind, d.Account, d.Name))
		}
		if err := checkIndex(cur, d.ExpectIndex, iamKey(d.Kind, d.Account, d.Name)); err != nil {
			return nil, err
		}
		if err := tx.Delete(tableIAM, cur); err != nil {
			return nil, err
		}
	}
	for _, p := range c.Put {
		e := p.Entity
		if e.Kind == "" || e.Name == "" {
			return nil, Errorf(CodeInvalid, "IAM entity without kind or name")
		}
		cur, err := iamGet(tx.Txn, e.Kind, e.Account, e.Name)
		if err != nil {
			return nil, err
		}
		if err := checkIndex(cur, p.ExpectIndex, e.Key()); err != nil {
			return nil, err
		}
		if e.Alt != "" {
			if other, err := tx.First(tableIAM, "alt", e.Alt); err != nil {
				return nil, err
			} else if other != nil && other.(*Entity).Key() != e.Key() {
				return nil, Errorf(CodeAlreadyExists, "%s is already in use", e.Alt)
			}
		}
		e.ID = e.Key()
		e.CreateIndex, e.ModifyIndex = tx.Index, tx.Index
		if cur != nil {
			e.CreateIndex = cur.CreateIndex
		}
		if err := tx.Insert(tableIAM, &e); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// IAMEntity returns one entity, or an error matching ErrNotFound.
func (s *Store) IAMEntity(kind, account, name string) (*Entity, error) {
	e, err := iamGet(s.ReadTxn(), kind, account, name)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, Errorf(CodeNotFound, "%s does not exist", iamKey(kind, account, name))
	}
	return e, nil
}

// IAMEntityByAlt finds an entity by its alternate key ("accesskey/AKIA...").
func (s *Store) IAMEntityByAlt(alt string) (*Entity, error) {
	obj, err := s.ReadTxn().First(tableIAM, "alt", alt)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "%s does not exist", alt)
	}
	return obj.(*Entity), nil
}

// IAMEntities lists the entities of a kind in an account (account "" for accounts),
// ordered by name.
func (s *Store) IAMEntities(kind, account string) ([]*Entity, error) {
	it, err := s.ReadTxn().Get(tableIAM, "id_prefix", iamKey(kind, account, ""))
	if err != nil {
		return nil, err
	}
	var out []*Entity
	for obj := it.Next(); obj != nil; obj = it.Next() {
		e := obj.(*Entity)
		if e.Kind == kind && e.Account == account {
			out = append(out, e)
		}
	}
	return out, nil
}
