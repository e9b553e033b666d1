// CodecVersions.swift — versions of the image libraries in use, for run records.

import CImageCodecs

public enum CodecVersions {
    /// Library name -> version, e.g. ["libpng": "1.6.39", "zlib": "1.2.13", "libjpeg": "62"].
    public static var all: [String: String] {
        ["libpng": String(cString: ct_libpng_version()),
         "zlib": String(cString: ct_zlib_version()),
         "libjpeg": String(ct_libjpeg_version())]
    }
}
