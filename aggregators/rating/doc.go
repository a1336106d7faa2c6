// Package rating turns a tenant's subscription changes and usage into
// invoices under the rules of SPEC §3, as pure functions: no I/O, no
// clock (every instant is an argument), money in decimal.Decimal, each
// line rounded once, half to even, to the currency's minor unit, and an
// invoice total that is the sum of its lines.
//
//   - [RateMonth]: the monthly invoice of a period (fees of monthly terms
//     prorated by exact time, seats, AI overage after allowance and packs,
//     packs, the term discount on recurring fees only);
//   - [RatePrepaid]: upfront invoices of prepaid contract years and
//     upgrade invoices inside them;
//   - [Adjustments]: adjustment lines for a closed invoice after late
//     events, for the next invoice;
//   - [Segments] and [Cuts]: the subscription timeline, for the
//     orchestrator's queries.
//
// The README in this directory lists the rules and every decision taken
// where the SPEC is silent.
package rating
