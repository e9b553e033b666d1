// FixtureLocation.swift — this target's golden files: the Fixtures folder of its bundle.

import TestSupport

let fixtures = FixtureFolder(bundle: .module)
