// Package pricebook loads and validates Tally's versioned price book (SPEC
// §2): plans with base fee, seat prices, included seats and limits, AI
// credit allowance and overage price; add-ons; terms and their discounts;
// marketplace terms; every price given per currency.
//
// The shipped book is pricebook.json in this directory, embedded into the
// binary ([Default]); [Load] and [Parse] read another one. Every amount in
// the file is a decimal string. A book is validated completely at load and
// the first problem is reported with the JSON path of the offending field
// ("plans.team.seats.learner.price.JPY: ...").
//
// A [Book] is read-only once returned: rating keeps a pointer to it and
// records its Version on every invoice. Changing prices means shipping a
// book with a new version; invoices already finalized keep the version
// (and the amounts) they were rated with.
package pricebook
