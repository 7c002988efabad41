package memstore_test

import (
	"errors"
	"testing"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/store"
	"github.com/xmppfsm/xmppfsm/impl/store/memstore"
	"github.com/xmppfsm/xmppfsm/impl/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func() store.Store {
		return memstore.New(memstore.Options{OfflineLimit: storetest.OfflineLimit})
	})
}

func TestLimits(t *testing.T) {
	el := etree.NewElement("message")
	fill := func(s *memstore.Store, n int) error {
		for range n {
			if err := s.StoreOffline("a@b", fsm.StoredMessage{Elem: el}); err != nil {
				return err
			}
		}
		return nil
	}
	s := memstore.New(memstore.Options{})
	if err := fill(s, store.DefaultOfflineLimit); err != nil {
		t.Fatal(err)
	}
	if err := fill(s, 1); !errors.Is(err, store.ErrQuotaExceeded) {
		t.Errorf("message %d: %v, want ErrQuotaExceeded", store.DefaultOfflineLimit+1, err)
	}
	s = memstore.New(memstore.Options{OfflineLimit: -1})
	if err := fill(s, 2*store.DefaultOfflineLimit); err != nil {
		t.Errorf("no limit: %v", err)
	}
}
