use super::*;

#[test]
fn the_complaint_columns_match_product_md() {
    let headers: Vec<&str> = COMPLAINT.iter().map(|f| f.header).collect();
    assert_eq!(
        headers,
        [
            "Provider NPI",
            "Provider Medicaid ID",
            "Provider Name",
            "MCO",
            "MCO Tracking Number",
            "Date Filed with MCO",
            "Internal Process Exhausted",
            "Coverage",
            "Claim Number",
            "Recipient ID",
            "Date of Service From",
            "Date of Service To",
            "Billed Amount",
            "Paid Amount",
            "Issue Category",
            "Issue Description",
        ]
    );
    let optional: Vec<&str> = COMPLAINT
        .iter()
        .filter(|f| !f.required)
        .map(|f| f.header)
        .collect();
    assert_eq!(optional, ["Date of Service To", "Paid Amount"]);
    assert_eq!(
        COMPLAINT[claim::ISSUE_DESCRIPTION].header,
        "Issue Description"
    );
    assert_eq!(
        COMPLAINT[claim::FILED_WITH_MCO].header,
        "Date Filed with MCO"
    );
}

#[test]
fn the_coverage_help_gives_the_fee_for_service_line() {
    assert!(
        COMPLAINT[claim::COVERAGE]
            .help
            .contains(crate::rules::FEE_FOR_SERVICE_PHONE)
    );
}

#[test]
fn the_registration_fields_split_into_registrant_and_provider() {
    assert_eq!(REGISTRANT_FIELDS.last().unwrap().header, "Organization");
    assert_eq!(PROVIDER_FIELDS.first().unwrap().header, "Provider Name");
    let registrant_headers = [
        (registrant::FIRST_NAME, "Registrant First Name"),
        (registrant::LAST_NAME, "Registrant Last Name"),
        (registrant::EMAIL, "Registrant Email"),
        (registrant::PHONE, "Registrant Phone"),
        (registrant::ROLE, "Role"),
        (registrant::ORGANIZATION, "Organization"),
    ];
    for (index, header) in registrant_headers {
        assert_eq!(REGISTRANT_FIELDS[index].header, header);
    }
    assert_eq!(PROVIDER_FIELDS[provider::NAME].header, "Provider Name");
    assert_eq!(PROVIDER_FIELDS[provider::NPI].header, "Provider NPI");
    assert_eq!(
        PROVIDER_FIELDS[provider::MEDICAID_ID].header,
        "Provider Medicaid ID"
    );
    let providers: Vec<&str> = PROVIDER_FIELDS.iter().map(|f| f.header).collect();
    assert_eq!(
        providers,
        [
            "Provider Name",
            "Provider NPI",
            "Provider Medicaid ID",
            "Street Address",
            "City",
            "State",
            "ZIP"
        ]
    );
}

#[test]
fn the_filing_date_help_gives_the_configured_window() {
    let mut rules = crate::config::Config::embedded().rules;
    rules.window_min_days = 31;
    rules.window_max_days = 75;
    let help = COMPLAINT[claim::FILED_WITH_MCO].help_for(&rules);
    assert!(help.contains("from 31 to 75 calendar days"), "{help}");
    assert!(!help.contains('{'), "{help}");
}

#[test]
fn help_fits_an_excel_input_message() {
    let rules = crate::config::Config::embedded().rules;
    for field in COMPLAINT.iter().chain(&REGISTRATION).chain(&RESPONSE) {
        // "Required. " goes before it; the window's numbers may take 4 digits.
        assert!(
            field.help_for(&rules).len() + "Required. ".len() + 4 <= 255,
            "{}",
            field.header
        );
        assert!(field.header.len() <= 32, "{}", field.header);
    }
}

/// The response workbook: `Ticket`, `Row`, the complaint's sixteen columns as they
/// are, then `MCO Decision` (the decision labels) and `MCO Comment`.
#[test]
fn the_response_columns_wrap_the_complaint_columns() {
    let headers: Vec<&str> = RESPONSE.iter().map(|f| f.header).collect();
    assert_eq!(headers[..2], ["Ticket", "Row"]);
    assert_eq!(headers[18..], ["MCO Decision", "MCO Comment"]);
    for (index, field) in COMPLAINT.iter().enumerate() {
        let copy = &RESPONSE[response::COMPLAINT_START + index];
        assert_eq!((copy.header, copy.ty), (field.header, field.ty));
    }
    assert_eq!(RESPONSE[response::DECISION].header, "MCO Decision");
    assert_eq!(RESPONSE[response::COMMENT].header, "MCO Comment");
    assert_eq!(
        RESPONSE[response::COMMENT].ty,
        ValueType::Text { max_len: 2000 }
    );
    assert!(RESPONSE[response::COMMENT].phi && !RESPONSE[response::COMMENT].required);
    let labels: Vec<&str> = crate::forms::McoDecision::ALL
        .iter()
        .map(|decision| decision.label())
        .collect();
    assert_eq!(MCO_DECISIONS.as_slice(), labels.as_slice());
    assert_eq!(
        RESPONSE[response::DECISION].ty,
        ValueType::Choice(&MCO_DECISIONS)
    );
}

/// The response workbook is no public download, and its marker is `mco-response`.
#[test]
fn the_response_workbook_is_known_by_its_marker_but_not_downloaded() {
    assert!(!Kind::DOWNLOADS.contains(&Kind::McoResponse));
    assert_eq!(Kind::McoResponse.marker(), "mco-response");
    assert_eq!(Kind::from_marker(" MCO-Response "), Some(Kind::McoResponse));
    for kind in Kind::ALL {
        assert_eq!(Kind::from_marker(kind.marker()), Some(kind));
    }
    assert_eq!(sheets(Kind::McoResponse)[0].name, "Claims");
}
