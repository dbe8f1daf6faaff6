package screenings

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"

	"aura/models"
	"aura/repositories"
	"aura/security"
	"aura/services/audit"
	"aura/services/policy"
)

// deviceTokenBytes is the randomness of a device token (256 bits).
const deviceTokenBytes = 32

// RegisterDevice registers a camera or PACS router of clinicID (its
// CLINIC_ADMIN, or ADMIN) and returns it with its token, shown this once:
// only its hash is kept.
func (s *Service) RegisterDevice(ctx context.Context, st *repositories.Store, a models.Actor, clinicID, name string) (*models.Device, string, error) {
	if err := policy.CanIn(st, a, clinicID, policy.PermClinicsAdminister); err != nil {
		return nil, "", err
	}
	if _, err := st.Clinics.ByID(clinicID); err != nil {
		return nil, "", err
	}
	name = strings.TrimSpace(name)
	if msg := models.CheckText(name, 1, 100, false); msg != "" {
		return nil, "", models.Invalid(map[string]string{"name": msg})
	}
	token := models.DeviceTokenPrefix + security.NewOpaqueToken(deviceTokenBytes)
	d := &models.Device{ID: uuid.NewString(), ClinicID: clinicID, Name: name, TokenHash: security.HashToken(token),
		CreatedByID: a.UserID, CreatedAt: s.Clock.Now()}
	err := st.Tx(func(tx *repositories.Store) error {
		if err := tx.Screenings.CreateDevice(d); err != nil {
			return err
		}
		return audit.Record(tx, a, deviceRole(a), models.AuditDeviceCreate, models.EntityDevice, d.ID, d.CreatedAt)
	})
	if err != nil {
		return nil, "", err
	}
	return d, token, nil
}

// RevokeDevice revokes device deviceID of clinicID (its CLINIC_ADMIN, or
// ADMIN): its token stops working at once. Revoking it again changes
// nothing.
func (s *Service) RevokeDevice(ctx context.Context, st *repositories.Store, a models.Actor, clinicID, deviceID string) (*models.Device, error) {
	if err := policy.CanIn(st, a, clinicID, policy.PermClinicsAdminister); err != nil {
		return nil, err
	}
	d, err := st.Screenings.Device(clinicID, deviceID)
	if err != nil {
		return nil, err
	}
	if d.RevokedAt != nil {
		return d, nil
	}
	now := s.Clock.Now()
	err = st.Tx(func(tx *repositories.Store) error {
		if err := tx.Screenings.RevokeDevice(deviceID, now); err != nil {
			return err
		}
		return audit.Record(tx, a, deviceRole(a), models.AuditDeviceRevoke, models.EntityDevice, d.ID, now)
	})
	if err != nil {
		return nil, err
	}
	return st.Screenings.Device(clinicID, deviceID)
}

// IsDeviceToken says whether a bearer token is a device's (by its form).
func IsDeviceToken(token string) bool { return strings.HasPrefix(token, models.DeviceTokenPrefix) }

// DeviceActor finds the device of token and the actor it sends as: the
// clinic admin who registered it, with the roles they hold now (so a
// device of an admin who left the clinic stores nothing). An unknown,
// malformed or revoked token, or an inactive account, is UNAUTHORIZED.
func (s *Service) DeviceActor(st *repositories.Store, token string) (*models.Device, models.Actor, error) {
	if !IsDeviceToken(token) || !security.PlausibleToken(token[len(models.DeviceTokenPrefix):], deviceTokenBytes) {
		return nil, models.Actor{}, models.ErrUnauthorized
	}
	d, err := st.Screenings.DeviceByTokenHash(security.HashToken(token))
	if errors.Is(err, models.ErrNotFound) {
		return nil, models.Actor{}, models.ErrUnauthorized
	} else if err != nil {
		return nil, models.Actor{}, err
	}
	u, err := st.Users.ByID(d.CreatedByID)
	if errors.Is(err, models.ErrNotFound) || (err == nil && !u.IsActive) {
		return nil, models.Actor{}, models.ErrUnauthorized
	} else if err != nil {
		return nil, models.Actor{}, err
	}
	return d, models.Actor{UserID: u.ID, Roles: u.RoleNames()}, nil
}

// deviceRole is the role a device's registration or revocation is audited
// under: ADMIN for an administrator, else the clinic's CLINIC_ADMIN.
func deviceRole(a models.Actor) string {
	if a.Has(models.RoleAdmin) {
		return models.RoleAdmin
	}
	return models.RoleClinicAdmin
}
