package state

import (
	"time"

	"github.com/hashicorp/go-memdb"
)

// KeyPair is an EC2 key pair. Only the public half is kept: CreateKeyPair hands the
// private key to the caller once and never records it.
type KeyPair struct {
	Account     string
	Name        string
	ID          string
	Type        string // rsa | ed25519
	Fingerprint string
	PublicKey   string // OpenSSH authorized_keys form
	Created     time.Time
	Tags        map[string]string
	ModifyIndex uint64
}

const tableKeyPairs = "keypairs"

// PutKeyPair creates a key pair; a name the account already uses is AlreadyExists.
type PutKeyPair struct {
	KeyPair KeyPair
}

func (*PutKeyPair) CommandType() CommandType { return CmdPutKeyPair }

// DeleteKeyPair removes an account's key pair by name or ID; deleting one that does not
// exist succeeds, as in EC2.
type DeleteKeyPair struct {
	Account string
	Name    string
	ID      string
}

func (*DeleteKeyPair) CommandType() CommandType { return CmdDeleteKeyPair }

func init() {
	registerTable(&memdb.TableSchema{
		Name: tableKeyPairs,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
				&memdb.StringFieldIndex{Field: "Account"}, &memdb.StringFieldIndex{Field: "Name"}}}},
			"keyid": {Name: "keyid", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
		},
	}, func() any { return new(KeyPair) })
	registerCommand("PutKeyPair", applyPutKeyPair)
	registerCommand("DeleteKeyPair", applyDeleteKeyPair)
}

func applyPutKeyPair(tx *Txn, c *PutKeyPair) (any, error) {
	k := c.KeyPair
	if k.Account == "" || k.Name == "" || k.ID == "" {
		return nil, Errorf(CodeInvalid, "key pair needs an account, a name and an ID")
	}
	if old, err := tx.First(tableKeyPairs, "id", k.Account, k.Name); err != nil {
		return nil, err
	} else if old != nil {
		return nil, Errorf(CodeAlreadyExists, "The keypair '%s' already exists.", k.Name)
	}
	k.ModifyIndex = tx.Index
	return nil, tx.Insert(tableKeyPairs, &k)
}

func applyDeleteKeyPair(tx *Txn, c *DeleteKeyPair) (any, error) {
	var obj any
	var err error
	if c.ID != "" {
		obj, err = tx.First(tableKeyPairs, "keyid", c.ID)
		if obj != nil && obj.(*KeyPair).Account != c.Account {
			obj = nil
		}
	} else {
		obj, err = tx.First(tableKeyPairs, "id", c.Account, c.Name)
	}
	if err != nil || obj == nil {
		return nil, err
	}
	return nil, tx.Delete(tableKeyPairs, obj)
}

// KeyPairs lists an account's key pairs ordered by name.
func (s *Store) KeyPairs(account string) ([]*KeyPair, error) {
	return listBy[KeyPair](s.ReadTxn(), tableKeyPairs, "id_prefix", account)
}

// KeyPair returns an account's key pair by name, or an error matching ErrNotFound.
func (s *Store) KeyPair(account, name string) (*KeyPair, error) {
	obj, err := s.ReadTxn().First(tableKeyPairs, "id", account, name)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "The key pair '%s' does not exist", name)
	}
	return obj.(*KeyPair), nil
}
