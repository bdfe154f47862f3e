//! Parameter counts and costs of the generator configurations.

use burn::module::Module;
use burn::prelude::*;
use face_deblur::model::GeneratorConfig;

#[test]
fn paper_config_has_about_44_7_million_parameters() {
    let device = Device::flex();
    let config = GeneratorConfig::paper();
    let params = config.init(&device).num_params();
    let gmac = config.macs(128, 128) as f64 / 1e9;
    println!("paper: {params} parameters, {gmac:.1} GMAC per 128² face");
    assert!(
        (44_000_000..45_500_000).contains(&params),
        "paper config has {params} parameters"
    );
    assert!(
        (85.0..105.0).contains(&gmac),
        "paper config costs {gmac} GMAC"
    );
}

#[test]
fn compact_config_is_small() {
    let device = Device::flex();
    let config = GeneratorConfig::compact();
    let params = config.init(&device).num_params();
    let gmac = config.macs(128, 128) as f64 / 1e9;
    println!("compact: {params} parameters, {gmac:.2} GMAC per 128² face");
    assert!(params < 3_000_000, "compact config has {params} parameters");
}
