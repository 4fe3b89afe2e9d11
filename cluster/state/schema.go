package state

import (
	"fmt"
	"sort"

	"github.com/hashicorp/go-memdb"
)

type tableEntry struct {
	schema *memdb.TableSchema
	new    func() any // a fresh object of the table's type, for Restore
}

var tables = map[string]tableEntry{}

// registerTable adds a table to the schema; called from the init of the owning domain's
// file. newObj returns a pointer to a zero object of the table's row type.
func registerTable(schema *memdb.TableSchema, newObj func() any) {
	if _, dup := tables[schema.Name]; dup {
		panic("state: table registered twice: " + schema.Name)
	}
	if _, ok := schema.Indexes["id"]; !ok {
		panic("state: table " + schema.Name + " has no id index")
	}
	tables[schema.Name] = tableEntry{schema: schema, new: newObj}
}

func tableNames() []string {
	names := make([]string, 0, len(tables))
	for n := range tables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func newMemDB() *memdb.MemDB {
	s := &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{}}
	for n, t := range tables {
		s.Tables[n] = t.schema
	}
	db, err := memdb.NewMemDB(s)
	if err != nil {
		panic(fmt.Sprintf("state: invalid schema: %v", err))
	}
	return db
}
