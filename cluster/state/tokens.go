package state

import (
	"time"

	"github.com/hashicorp/go-memdb"
)

// JoinToken admits new boxes. Only a hash of the secret is replicated.
type JoinToken struct {
	SecretHash  string
	Expires     time.Time // zero: never
	Description string
	CreateIndex uint64
}

// Expired reports whether the token is past its expiry at now.
func (t *JoinToken) Expired(now time.Time) bool {
	return !t.Expires.IsZero() && now.After(t.Expires)
}

const tableJoinTokens = "join_tokens"

// CreateJoinToken records a token.
type CreateJoinToken struct {
	Token JoinToken
}

func (*CreateJoinToken) CommandType() CommandType { return CmdCreateJoinToken }

// DeleteJoinToken revokes a token.
type DeleteJoinToken struct {
	SecretHash string
}

func (*DeleteJoinToken) CommandType() CommandType { return CmdDeleteJoinToken }

func init() {
	registerTable(&memdb.TableSchema{
		Name: tableJoinTokens,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "SecretHash"}},
		},
	}, func() any { return new(JoinToken) })
	registerCommand("CreateJoinToken", applyCreateJoinToken)
	registerCommand("DeleteJoinToken", applyDeleteJoinToken)
}

func applyCreateJoinToken(tx *Txn, c *CreateJoinToken) (any, error) {
	if len(c.Token.SecretHash) != 64 {
		return nil, Errorf(CodeInvalid, "join token hash must be 64 hex characters")
	}
	t := c.Token
	t.CreateIndex = tx.Index
	return nil, tx.Insert(tableJoinTokens, &t)
}

func applyDeleteJoinToken(tx *Txn, c *DeleteJoinToken) (any, error) {
	n, err := tx.DeleteAll(tableJoinTokens, "id", c.SecretHash)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, Errorf(CodeNotFound, "no such join token")
	}
	return nil, nil
}

// JoinToken returns the token with the given secret hash, or an error matching
// ErrNotFound.
func (s *Store) JoinToken(secretHash string) (*JoinToken, error) {
	obj, err := s.ReadTxn().First(tableJoinTokens, "id", secretHash)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "no such join token")
	}
	return obj.(*JoinToken), nil
}

// JoinTokens lists the tokens.
func (s *Store) JoinTokens() ([]*JoinToken, error) {
	return list[JoinToken](s.ReadTxn(), tableJoinTokens)
}
