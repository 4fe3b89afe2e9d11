package state

import (
	"regexp"
	"time"

	"github.com/hashicorp/go-memdb"
)

// Setting is one cluster-wide configuration value (for example the region name).
type Setting struct {
	Key         string
	Value       string
	ModifyIndex uint64
}

const tableSettings = "settings"

// settingKey allows capitals after the first character so that a key can
// name something AWS spells in capitals, as scheme.STANDARD names a
// storage class.
var settingKey = regexp.MustCompile(`^[a-z0-9][a-zA-Z0-9._/-]{0,127}$`)

// maxSettingValue bounds a value: settings are small configuration, not a data store.
const maxSettingValue = 64 << 10

// SetSetting creates or replaces a setting.
type SetSetting struct {
	Key   string
	Value string
}

func (*SetSetting) CommandType() CommandType { return CmdSetSetting }

// DeleteSetting removes a setting.
type DeleteSetting struct {
	Key string
}

func (*DeleteSetting) CommandType() CommandType { return CmdDeleteSetting }

func init() {
	registerTable(&memdb.TableSchema{
		Name: tableSettings,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
		},
	}, func() any { return new(Setting) })
	registerCommand("SetSetting", applySetSetting)
	registerCommand("DeleteSetting", applyDeleteSetting)
}

// ValidateSetting checks a key and value before they are submitted.
func ValidateSetting(key, value string) error {
	if !settingKey.MatchString(key) {
		return Errorf(CodeInvalid, "invalid setting key %q: use 1-128 of a-z A-Z 0-9 . _ / -, starting with a lower-case letter or digit", key)
	}
	if len(value) > maxSettingValue {
		return Errorf(CodeInvalid, "setting %q is %d bytes; the limit is %d", key, len(value), maxSettingValue)
	}
	if key == SettingRecoveryAfter && value != "off" {
		if d, err := time.ParseDuration(value); err != nil || d < 0 {
			return Errorf(CodeInvalid, "setting %q is a duration such as 30s or 2m, or off", key)
		}
	}
	return nil
}

func applySetSetting(tx *Txn, c *SetSetting) (any, error) {
	if err := ValidateSetting(c.Key, c.Value); err != nil {
		return nil, err
	}
	return tx.Index, tx.Insert(tableSettings, &Setting{Key: c.Key, Value: c.Value, ModifyIndex: tx.Index})
}

func applyDeleteSetting(tx *Txn, c *DeleteSetting) (any, error) {
	n, err := tx.DeleteAll(tableSettings, "id", c.Key)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, Errorf(CodeNotFound, "no setting %q", c.Key)
	}
	return nil, nil
}

// Setting returns one setting, or an error matching ErrNotFound.
func (s *Store) Setting(key string) (*Setting, error) {
	obj, err := s.ReadTxn().First(tableSettings, "id", key)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "no setting %q", key)
	}
	return obj.(*Setting), nil
}

// Settings lists every setting ordered by key.
func (s *Store) Settings() ([]*Setting, error) { return list[Setting](s.ReadTxn(), tableSettings) }
