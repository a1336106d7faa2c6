package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/tally-billing/tally/auth"
)

// Tenant keys (SPEC §4, §6): a key of role tenant reads its own tenant's
// usage, invoices and entitlements, and nothing else. Which route takes
// which role is in NewRouter and docs/keys.md ("Routes and roles").

// tenantScope decides whether the caller may read tenant's data: a
// finance key any tenant's; a tenant key its own, and 404 for another
// tenant (not 403: it does not even learn that the tenant exists); any
// other key 403. ok is true when the request may go on; otherwise status
// is the answer to give.
func tenantScope(r *http.Request, tenant string) (status int, ok bool) {
	p, _ := PrincipalFrom(r.Context())
	switch {
	case p.CanReadTenant(tenant):
		return 0, true
	case p.Role == auth.RoleTenant:
		return http.StatusNotFound, false
	}
	return http.StatusForbidden, false
}

// ownTenant guards a route with a {tenant} path parameter: it answers
// 404 to a tenant key naming another tenant and 403 to a key that reads
// no tenant's data (tenantScope), before the read-your-writes barrier, so
// that a refused request never waits. Mount it as
//
//	r.With(require(auth.RoleFinance, auth.RoleTenant), ownTenant, consistent(b)).Get("/tenants/{tenant}/…", h)
//
// (NewRouter's tenantReads is that chain).
func ownTenant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status, ok := tenantScope(r, chi.URLParam(r, "tenant")); !ok {
			writeError(w, status, http.StatusText(status))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ownTenantQuery is ownTenant for a list read whose tenant is the
// "tenant" query parameter (GET /v1/invoices): see tenantOfQuery.
func ownTenantQuery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, status, ok := tenantOfQuery(r); !ok {
			writeError(w, status, http.StatusText(status))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tenantOfQuery returns the tenant a list read (GET /v1/invoices) is
// about: the "tenant" query parameter, or, for a tenant key that gives
// none, its own tenant. A tenant key naming another tenant gets 404.
func tenantOfQuery(r *http.Request) (tenant string, status int, ok bool) {
	tenant = r.URL.Query().Get("tenant")
	p, _ := PrincipalFrom(r.Context())
	if p.Role != auth.RoleTenant {
		return tenant, 0, true // finance: every tenant, or the one named
	}
	if tenant == "" {
		tenant = p.Tenant
	}
	if status, ok := tenantScope(r, tenant); !ok {
		return "", status, false
	}
	return tenant, 0, true
}
