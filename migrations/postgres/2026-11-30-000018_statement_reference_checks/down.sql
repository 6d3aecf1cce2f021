ALTER TABLE deletion_notices ALTER COLUMN released_name SET STATISTICS -1;
ALTER TABLE incidents
    ALTER COLUMN title SET STATISTICS -1,
    ALTER COLUMN description SET STATISTICS -1,
    ALTER COLUMN nature SET STATISTICS -1,
    ALTER COLUMN investigation SET STATISTICS -1,
    ALTER COLUMN mitigation SET STATISTICS -1,
    ALTER COLUMN contact SET STATISTICS -1;
ALTER TABLE incident_updates
    ALTER COLUMN perpetrators SET STATISTICS -1,
    ALTER COLUMN data_abused SET STATISTICS -1,
    ALTER COLUMN further_investigation SET STATISTICS -1,
    ALTER COLUMN further_mitigation SET STATISTICS -1,
    ALTER COLUMN corrective_action SET STATISTICS -1;
DROP TRIGGER badges_unreferenced_on_delete ON badges;
DROP FUNCTION badges_unreferenced();
DROP TRIGGER events_never_deleted ON events;
DROP TRIGGER partners_never_deleted ON partners;
DROP TRIGGER users_never_deleted ON users;
DROP TRIGGER exports_never_deleted ON exports;
DROP TRIGGER attendees_never_deleted ON attendees;
DROP FUNCTION refuse_delete();
DROP TRIGGER disclosures_references_on_insert ON disclosures;
DROP TRIGGER disclosures_references_on_update ON disclosures;
DROP FUNCTION disclosures_references_exist();
DROP TRIGGER leads_references_on_insert ON leads;
DROP TRIGGER leads_references_on_update ON leads;
DROP FUNCTION leads_references_exist();
DROP TRIGGER scans_references_on_insert ON scans;
DROP TRIGGER scans_references_on_update ON scans;
DROP FUNCTION scans_references_exist();
DROP TRIGGER consents_references_on_insert ON consents;
DROP TRIGGER consents_references_on_update ON consents;
DROP FUNCTION consents_references_exist();
DROP TRIGGER badges_references_on_insert ON badges;
DROP TRIGGER badges_references_on_update ON badges;
DROP FUNCTION badges_references_exist();
DROP TRIGGER attendees_references_on_insert ON attendees;
DROP TRIGGER attendees_references_on_update ON attendees;
DROP FUNCTION attendees_references_exist();
ALTER TABLE attendees ADD CONSTRAINT attendees_event_id_fkey FOREIGN KEY (event_id) REFERENCES events(id);
ALTER TABLE badges ADD CONSTRAINT badges_event_id_fkey FOREIGN KEY (event_id) REFERENCES events(id);
ALTER TABLE badges ADD CONSTRAINT badges_attendee_id_fkey FOREIGN KEY (attendee_id) REFERENCES attendees(id);
ALTER TABLE consents ADD CONSTRAINT consents_event_id_fkey FOREIGN KEY (event_id) REFERENCES events(id);
ALTER TABLE consents ADD CONSTRAINT consents_attendee_id_fkey FOREIGN KEY (attendee_id) REFERENCES attendees(id);
ALTER TABLE consents ADD CONSTRAINT consents_partner_id_fkey FOREIGN KEY (partner_id) REFERENCES partners(id);
ALTER TABLE scans ADD CONSTRAINT scans_event_id_fkey FOREIGN KEY (event_id) REFERENCES events(id);
ALTER TABLE scans ADD CONSTRAINT scans_partner_id_fkey FOREIGN KEY (partner_id) REFERENCES partners(id);
ALTER TABLE scans ADD CONSTRAINT scans_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id);
ALTER TABLE scans ADD CONSTRAINT scans_badge_id_fkey FOREIGN KEY (badge_id) REFERENCES badges(id);
ALTER TABLE scans ADD CONSTRAINT scans_attendee_id_fkey FOREIGN KEY (attendee_id) REFERENCES attendees(id);
ALTER TABLE leads ADD CONSTRAINT leads_event_id_fkey FOREIGN KEY (event_id) REFERENCES events(id);
ALTER TABLE leads ADD CONSTRAINT leads_partner_id_fkey FOREIGN KEY (partner_id) REFERENCES partners(id);
ALTER TABLE leads ADD CONSTRAINT leads_attendee_id_fkey FOREIGN KEY (attendee_id) REFERENCES attendees(id);
ALTER TABLE leads ADD CONSTRAINT leads_first_scanned_by_fkey FOREIGN KEY (first_scanned_by) REFERENCES users(id);
ALTER TABLE leads ADD CONSTRAINT leads_notes_by_fkey FOREIGN KEY (notes_by) REFERENCES users(id);
ALTER TABLE disclosures ADD CONSTRAINT disclosures_event_id_fkey FOREIGN KEY (event_id) REFERENCES events(id);
ALTER TABLE disclosures ADD CONSTRAINT disclosures_partner_id_fkey FOREIGN KEY (partner_id) REFERENCES partners(id);
ALTER TABLE disclosures ADD CONSTRAINT disclosures_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id);
ALTER TABLE disclosures ADD CONSTRAINT disclosures_attendee_id_fkey FOREIGN KEY (attendee_id) REFERENCES attendees(id);
ALTER TABLE disclosures ADD CONSTRAINT disclosures_export_id_fkey FOREIGN KEY (export_id) REFERENCES exports(id);
