use idcard_domain::region::{self, RegionCode, RegionError};

#[test]
fn retired_chongwen_district_is_known_with_its_history() {
    let chongwen = RegionCode::parse("110103").unwrap();
    assert_eq!(chongwen.code(), 110103);
    assert_eq!(chongwen.as_string(), "110103");
    assert_eq!(chongwen.name(), "崇文区");
    assert_eq!(chongwen.retired_in(), Some(2009));
    assert_eq!(chongwen.province().unwrap().name, "北京市");
    assert_eq!(chongwen.full_name(), "北京市崇文区");
}

#[test]
fn declared_domicile_must_be_in_use_today() {
    assert_eq!(
        RegionCode::parse_current("110103").unwrap_err().to_string(),
        "region code 110103 was retired after 2009, expected a code in use today"
    );
    assert_eq!(RegionCode::parse_current("110105").unwrap().name(), "朝阳区");
}

#[test]
fn county_reports_its_province_and_prefecture() {
    let code = RegionCode::parse("440524").unwrap();
    let province = code.province().unwrap();
    let prefecture = code.prefecture().unwrap();
    assert_eq!((province.code, province.name), (440000, "广东省"));
    assert_eq!((prefecture.code, prefecture.name), (440500, "汕头市"));
    assert_eq!(code.full_name(), format!("广东省汕头市{}", code.name()));
}

#[test]
fn hong_kong_macao_taiwan_codes_are_recognised() {
    let names: Vec<&str> = [810000, 820000, 830000]
        .into_iter()
        .map(|c| region::lookup(c).unwrap().name())
        .collect();
    assert_eq!(names, ["香港特别行政区", "澳门特别行政区", "台湾省"]);
}

#[test]
fn bad_codes_are_rejected_with_reasons() {
    let cases = [
        ("99999", "REGION_CODE_FORMAT"),
        ("1101O5", "REGION_CODE_FORMAT"),
        ("999999", "REGION_CODE_UNKNOWN"),
        ("000000", "REGION_CODE_UNKNOWN"),
    ];
    for (input, code) in cases {
        let err: RegionError = RegionCode::parse(input).unwrap_err();
        assert_eq!(err.reason_code(), code, "{input}");
    }
}

#[test]
fn table_holds_thousands_of_codes_with_history() {
    assert!(region::codes().len() > 6_700);
    assert!(region::entries().len() > region::codes().len());
    let retired = region::codes()
        .iter()
        .filter(|&&c| region::lookup(c).unwrap().retired_in().is_some())
        .count();
    assert!(retired > 2_000, "{retired} retired codes");
}
