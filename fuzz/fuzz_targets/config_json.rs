//! Training configuration JSON: parse, check, derive the model configs and the schedule.
#![no_main]

use face_deblur::train::config::TrainConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `from_json` fills in the defaults, applies the variant's switches and checks the result.
    let Ok(config) = TrainConfig::from_json(text) else {
        return;
    };
    let _ = config.generator_config();
    let _ = config.discriminator_config();
    for step in [0, 1, config.schedule_start, config.steps] {
        let _ = config.lr_factor(step);
        let _ = config.adversarial_phase(step);
    }
});
