package jid_test

import (
	"errors"
	"fmt"

	"github.com/xmppfsm/xmppfsm/jid"
)

func Example() {
	j, err := jid.Parse("Juliet@Example.COM/Balcony")
	if err != nil {
		panic(err)
	}
	fmt.Println(j)
	fmt.Println(j.Local(), j.Domain(), j.Resource())
	fmt.Println(j.Bare(), j.Bare().IsBare())
	fmt.Println(j.Bare() == jid.MustParse("juliet@example.com"))

	_, err = jid.Parse(`"juliet"@example.com`)
	var e *jid.Error
	fmt.Println(errors.Is(err, jid.ErrInvalid), errors.As(err, &e) && e.Part == jid.Localpart)
	// Output:
	// juliet@example.com/Balcony
	// juliet example.com Balcony
	// juliet@example.com true
	// true
	// true true
}

func ExampleNew() {
	j, err := jid.New("Σ", "xn--mller-kva.example.", "phone")
	fmt.Println(j, err)
	// Output: σ@müller.example/phone <nil>
}
