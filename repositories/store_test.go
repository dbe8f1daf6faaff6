package repositories_test

import (
	"reflect"
	"testing"

	"aura/internal/testenv"
	"aura/repositories"
)

// TestStoreHandsEveryRepositoryItsHandle: New builds the Store and its
// repositories as one block, so a repository added to the Store but not
// handed the handle would carry a nil *gorm.DB and panic on first use.
func TestStoreHandsEveryRepositoryItsHandle(t *testing.T) {
	t.Parallel()
	db, _ := open(t, testenv.Engines()[0])
	v := reflect.ValueOf(repositories.New(db)).Elem()
	for i := 0; i < v.NumField(); i++ {
		f, name := v.Field(i), v.Type().Field(i).Name
		if !v.Type().Field(i).IsExported() || f.Kind() != reflect.Pointer {
			continue
		}
		if f.IsNil() {
			t.Errorf("Store.%s is nil", name)
			continue
		}
		h := f.Elem().FieldByName("db")
		if !h.IsValid() {
			t.Errorf("Store.%s has no db handle", name)
			continue
		}
		if h.IsNil() {
			t.Errorf("Store.%s was not handed the handle", name)
		}
	}
}
