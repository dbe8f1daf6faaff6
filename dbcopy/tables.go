package dbcopy

import (
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"aura/models"
)

// column is one column of an AURA table and the Go kind its values are read
// as, whatever the engine stores (so a SQLite 0/1 and a PostgreSQL boolean
// both become a bool).
type column struct {
	name string
	kind schema.DataType
	// from is the source column this one is read from when the source
	// lacks it (see derived); "" reads the column itself.
	from string
}

// derived names, per table, columns a source of an older AURA lacks that
// are filled from another column of the same row: a patient record made for
// an account has the account's id as its own.
var derived = map[string]map[string]string{
	"patients": {"id": "user_id"},
}

// table is one AURA table, as models.All() describes it.
type table struct {
	name    string
	columns []column
	// serial is the autoincrement primary key column ("" if none): its
	// PostgreSQL sequence is moved past the copied ids.
	serial string
}

// auraTables lists every AURA table in dependency order (parents first).
func auraTables(db *gorm.DB) ([]table, error) {
	var out []table
	for _, m := range models.All() {
		stmt := &gorm.Statement{DB: db}
		if err := stmt.Parse(m); err != nil {
			return nil, fmt.Errorf("model %T: %w", m, err)
		}
		t := table{name: stmt.Schema.Table}
		for _, name := range stmt.Schema.DBNames {
			f := stmt.Schema.FieldsByDBName[name]
			switch f.GORMDataType {
			case schema.Bool, schema.Int, schema.Uint, schema.Float, schema.String, schema.Time, schema.Bytes:
			default:
				return nil, fmt.Errorf("%s.%s: type %q is not supported by db copy", t.name, name, f.GORMDataType)
			}
			t.columns = append(t.columns, column{name: name, kind: f.GORMDataType})
			if f.PrimaryKey && f.AutoIncrement {
				t.serial = name
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// only keeps the columns named in have (the ones a source table really has).
func (t table) only(have []string) table {
	set := map[string]bool{}
	for _, h := range have {
		set[strings.ToLower(h)] = true
	}
	out := t
	out.columns = nil
	for _, c := range t.columns {
		if set[c.name] {
			out.columns = append(out.columns, c)
		} else if f := derived[t.name][c.name]; f != "" && set[f] {
			c.from = f
			out.columns = append(out.columns, c)
		}
	}
	return out
}

func (t table) names() []string {
	n := make([]string, len(t.columns))
	for i, c := range t.columns {
		n[i] = c.name
	}
	return n
}

// selectSQL reads t's columns, quoted for db's dialect.
func (t table) selectSQL(db *gorm.DB) string {
	cols := make([]string, len(t.columns))
	for i, c := range t.columns {
		cols[i] = quote(db, c.name)
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + quote(db, t.name)
}

// sourceSQL reads t's columns from the source, derived ones from the
// column they are made of.
func (t table) sourceSQL(db *gorm.DB) string {
	cols := make([]string, len(t.columns))
	for i, c := range t.columns {
		cols[i] = quote(db, c.name)
		if c.from != "" {
			cols[i] = quote(db, c.from) + " AS " + quote(db, c.name)
		}
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + quote(db, t.name)
}

// insertSQL inserts n rows of t's columns.
func (t table) insertSQL(db *gorm.DB, n int) string {
	cols := make([]string, len(t.columns))
	for i, c := range t.columns {
		cols[i] = quote(db, c.name)
	}
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(t.columns)), ",") + ")"
	var b strings.Builder
	b.WriteString("INSERT INTO " + quote(db, t.name) + " (" + strings.Join(cols, ", ") + ") VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(one)
	}
	return b.String()
}

func quote(db *gorm.DB, name string) string {
	var b strings.Builder
	db.Dialector.QuoteTo(&b, name)
	return b.String()
}

// scanRow reads one row of t into typed values: nil for NULL, else bool,
// int64, float64, string, time.Time (UTC) or []byte.
func scanRow(rows *sql.Rows, t table) ([]any, error) {
	dest := make([]any, len(t.columns))
	for i, c := range t.columns {
		switch c.kind {
		case schema.Bool:
			dest[i] = new(sql.NullBool)
		case schema.Int, schema.Uint:
			dest[i] = new(sql.NullInt64)
		case schema.Float:
			dest[i] = new(sql.NullFloat64)
		case schema.String:
			dest[i] = new(sql.NullString)
		case schema.Time:
			dest[i] = new(sql.NullTime)
		default:
			dest[i] = new([]byte)
		}
	}
	if err := rows.Scan(dest...); err != nil {
		return nil, err
	}
	vals := make([]any, len(dest))
	for i, d := range dest {
		switch v := d.(type) {
		case *sql.NullBool:
			if v.Valid {
				vals[i] = v.Bool
			}
		case *sql.NullInt64:
			if v.Valid {
				vals[i] = v.Int64
			}
		case *sql.NullFloat64:
			if v.Valid {
				vals[i] = v.Float64
			}
		case *sql.NullString:
			if v.Valid {
				vals[i] = v.String
			}
		case *sql.NullTime:
			if v.Valid {
				vals[i] = v.Time.UTC()
			}
		case *[]byte:
			if *v != nil {
				vals[i] = append([]byte(nil), *v...)
			}
		}
	}
	return vals, nil
}

// checksum is an order-independent digest of a table's rows: the sum, modulo
// 2^256, of each row's SHA-256. Engines sort text differently, so the rows
// of the two sides are never compared in an order.
type checksum struct {
	limbs [4]uint64
	// precision is what times are compared at: PostgreSQL keeps microseconds,
	// SQLite whatever it was given.
	precision time.Duration
}

func (c *checksum) add(vals []any) {
	h := sha256.New()
	var num [8]byte
	for _, v := range vals {
		var tag byte
		var body []byte
		switch x := v.(type) {
		case nil:
			tag = 'N'
		case bool:
			tag, body = 'B', []byte(strconv.FormatBool(x))
		case int64:
			tag, body = 'I', []byte(strconv.FormatInt(x, 10))
		case float64:
			tag, body = 'F', []byte(strconv.FormatFloat(x, 'g', -1, 64))
		case string:
			tag, body = 'S', []byte(x)
		case time.Time:
			tag, body = 'T', []byte(x.UTC().Truncate(c.precision).Format(time.RFC3339Nano))
		case []byte:
			tag, body = 'X', x
		default:
			tag, body = '?', fmt.Appendf(nil, "%v", x)
		}
		binary.BigEndian.PutUint64(num[:], uint64(len(body)))
		h.Write([]byte{tag})
		h.Write(num[:])
		h.Write(body)
	}
	sum := h.Sum(nil)
	var carry uint64
	for i := 0; i < 4; i++ { // limbs[0] is the least significant
		c.limbs[i], carry = bits.Add64(c.limbs[i], binary.BigEndian.Uint64(sum[(3-i)*8:]), carry)
	}
}

func (c *checksum) String() string {
	var b [32]byte
	for i := 0; i < 4; i++ {
		binary.BigEndian.PutUint64(b[i*8:], c.limbs[3-i])
	}
	return hex.EncodeToString(b[:])
}
