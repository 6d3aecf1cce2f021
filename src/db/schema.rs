// Written by hand to match migrations/{sqlite,postgres}: only types both backends share.

diesel::table! {
    events (id) {
        id -> Text,
        name -> Text,
        slug -> Text,
        starts_at -> BigInt,
        ends_at -> BigInt,
        venue -> Nullable<Text>,
        privacy_notice_version -> Text,
        released_fields -> Text,
        created_at -> BigInt,
        scan_grace_hours -> Integer,
        time_zone -> Text,
        privacy_notice_url -> Nullable<Text>,
        organiser_contact -> Nullable<Text>,
        registration_closes_at -> Nullable<BigInt>,
        retention_days -> Integer,
        purged_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    partners (id) {
        id -> Text,
        event_id -> Text,
        name -> Text,
        leads_suspended -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        event_id -> Nullable<Text>,
        partner_id -> Nullable<Text>,
        token_version -> Integer,
        disabled -> Bool,
        failed_logins -> Integer,
        locked_until -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    attendees (id) {
        id -> Text,
        event_id -> Text,
        name -> Text,
        email -> Text,
        company -> Nullable<Text>,
        phone -> Nullable<Text>,
        address -> Nullable<Text>,
        marketing_emails -> Bool,
        search_text -> Text,
        privacy_token_hash -> Nullable<Text>,
        erased_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        unsubscribe_token_hash -> Nullable<Text>,
        import_run -> Nullable<Text>,
    }
}

diesel::table! {
    import_runs (id) {
        id -> Text,
        event_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    badges (id) {
        id -> Text,
        event_id -> Text,
        attendee_id -> Text,
        code_hash -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    consents (id) {
        id -> Text,
        event_id -> Text,
        attendee_id -> Text,
        partner_id -> Nullable<Text>,
        granted_at -> BigInt,
        source -> Text,
        notice_version -> Text,
        ended_at -> Nullable<BigInt>,
        confirmed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    withdrawals (id) {
        id -> Text,
        event_id -> Text,
        attendee_id -> Text,
        partner_id -> Nullable<Text>,
        created_at -> BigInt,
        source -> Text,
        recorded_by -> Nullable<Text>,
    }
}

diesel::table! {
    scans (id) {
        id -> Text,
        event_id -> Text,
        partner_id -> Text,
        user_id -> Text,
        client_scan_id -> Text,
        badge_id -> Text,
        attendee_id -> Text,
        scanned_at -> BigInt,
        received_at -> BigInt,
        notes -> Nullable<Text>,
        rating -> Nullable<Integer>,
        answers -> Nullable<Text>,
        notes_updated_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    leads (id) {
        id -> Text,
        event_id -> Text,
        partner_id -> Text,
        attendee_id -> Text,
        first_scanned_at -> BigInt,
        first_scanned_by -> Text,
        last_scanned_at -> BigInt,
        notes -> Nullable<Text>,
        rating -> Nullable<Integer>,
        answers -> Nullable<Text>,
        updated_at -> BigInt,
        notes_by -> Nullable<Text>,
        notes_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    exports (id) {
        id -> Text,
        event_id -> Text,
        partner_id -> Text,
        user_id -> Text,
        started_at -> BigInt,
        completed_at -> Nullable<BigInt>,
        row_count -> Nullable<BigInt>,
        sha256 -> Nullable<Text>,
    }
}

diesel::table! {
    disclosures (id) {
        id -> Text,
        occurred_at -> BigInt,
        event_id -> Text,
        partner_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        attendee_id -> Text,
        fields -> Text,
        basis -> Text,
        channel -> Text,
        export_id -> Nullable<Text>,
    }
}

diesel::table! {
    requests (id) {
        id -> Text,
        event_id -> Text,
        attendee_id -> Text,
        kind -> Text,
        channel -> Text,
        received_at -> BigInt,
        due_at -> BigInt,
        status -> Text,
        completed_at -> Nullable<BigInt>,
        handled_by -> Nullable<Text>,
        notes -> Nullable<Text>,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    scan_guard (id) {
        id -> Integer,
        version -> BigInt,
    }
}

diesel::table! {
    security_actions (id) {
        id -> Text,
        occurred_at -> BigInt,
        actor_id -> Text,
        action -> Text,
        target -> Nullable<Text>,
    }
}

diesel::table! {
    incidents (id) {
        id -> Text,
        title -> Text,
        description -> Text,
        discovered_at -> BigInt,
        scope_event_id -> Nullable<Text>,
        scope_partner_id -> Nullable<Text>,
        scope_user_id -> Nullable<Text>,
        window_from -> BigInt,
        window_to -> BigInt,
        nature -> Nullable<Text>,
        investigation -> Nullable<Text>,
        mitigation -> Nullable<Text>,
        contact -> Nullable<Text>,
        notified_at -> Nullable<BigInt>,
        reported_at -> Nullable<BigInt>,
        closed_at -> Nullable<BigInt>,
        created_at -> BigInt,
        created_by -> Text,
        participants_notified_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    incident_updates (id) {
        id -> Text,
        incident_id -> Text,
        created_at -> BigInt,
        created_by -> Text,
        perpetrators -> Text,
        data_abused -> Text,
        further_investigation -> Text,
        further_mitigation -> Text,
        corrective_action -> Text,
    }
}

diesel::table! {
    login_throttle (key_hash) {
        key_hash -> Text,
        failures -> Integer,
        locked_until -> Nullable<BigInt>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Text,
        event_id -> Nullable<Text>,
        attendee_id -> Nullable<Text>,
        kind -> Text,
        recipient -> Text,
        subject -> Text,
        body -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        sent_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    browser_sessions (id) {
        id -> Text,
        user_id -> Text,
        csrf_token -> Text,
        token_version -> Integer,
        token_generation -> BigInt,
        created_at -> BigInt,
        last_seen_at -> BigInt,
    }
}

diesel::table! {
    account_links (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        purpose -> Text,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    deletion_notices (id) {
        id -> Text,
        event_id -> Text,
        partner_id -> Text,
        attendee_id -> Text,
        lead_id -> Nullable<Text>,
        released_name -> Nullable<Text>,
        reason -> Text,
        created_at -> BigInt,
        acknowledged_at -> Nullable<BigInt>,
        acknowledged_by -> Nullable<Text>,
    }
}

diesel::table! {
    opt_in_confirmations (token_hash) {
        token_hash -> Text,
        attendee_id -> Text,
        created_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    retired_links (token_hash) {
        token_hash -> Text,
        attendee_id -> Text,
        event_id -> Text,
        retired_at -> BigInt,
    }
}

diesel::joinable!(partners -> events (event_id));
diesel::joinable!(attendees -> events (event_id));
diesel::joinable!(badges -> attendees (attendee_id));
diesel::table! {
    qualification_questions (partner_id) {
        partner_id -> Text,
        questions -> Text,
        updated_at -> BigInt,
        updated_by -> Text,
    }
}

diesel::table! {
    devices (id) {
        id -> Text,
        user_id -> Text,
        partner_id -> Text,
        event_id -> Text,
        name -> Text,
        refresh_hash -> Text,
        refresh_generation -> Integer,
        token_version -> Integer,
        token_generation -> BigInt,
        created_at -> BigInt,
        last_used_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    device_enrolments (code_hash) {
        code_hash -> Text,
        user_id -> Text,
        partner_id -> Text,
        event_id -> Text,
        created_by -> Text,
        token_version -> Integer,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        device_id -> Nullable<Text>,
    }
}

diesel::joinable!(leads -> attendees (attendee_id));
diesel::joinable!(scans -> attendees (attendee_id));
diesel::joinable!(disclosures -> partners (partner_id));
diesel::joinable!(devices -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    events,
    import_runs,
    partners,
    users,
    attendees,
    badges,
    consents,
    withdrawals,
    scans,
    leads,
    exports,
    disclosures,
    account_links,
    browser_sessions,
    deletion_notices,
    opt_in_confirmations,
    retired_links,
    qualification_questions,
    devices,
    device_enrolments,
);

diesel::table! {
    disclosure_counts (id) {
        id -> Text,
        event_id -> Text,
        partner_id -> Nullable<Text>,
        channel -> Text,
        basis -> Text,
        day -> BigInt,
        releases -> BigInt,
    }
}

diesel::table! {
    ledger_retention (event_id) {
        event_id -> Text,
    }
}
