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
// (and the amounts) they were rated with. [Keep] archives every book
// Tally starts with under its version (refusing a changed book under a
// version already used) and returns the [Catalog] of every version, so
// that a closed month is re-rated with the prices it was billed under.
//
// Every plan carries its row of the entitlement matrix of SPEC §6
// ([Capabilities], [Book.Entitlement], [Book.Matrix]), validated at load:
// every capability, values of the SPEC only, errors naming plan and
// capability. Add-ons are capabilities: sold where the matrix says
// "addon", free where the plan includes them, refused elsewhere
// ([Book.AddonOn], [Book.CheckEvent]). A version archived before the
// matrix is still read back for re-rating, with its own add-on lists.
//
// The marketplace's minimum payout covers every currency a sale may be in
// ([Minimums]): explicit amounts and a "default" for the rest; a book that
// leaves a currency without one is refused.
package pricebook
