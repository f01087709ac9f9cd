/*
 * PDQ perceptual hashing in the browser, our own implementation of the algorithm Meta published
 * (pdqhash-2017-10-09.pdf; reference code in facebook/ThreatExchange, pdq/cpp): luminance,
 * two passes of a Jarosz box filter along rows and columns, decimation to 64x64, the 16x16
 * low-frequency block of a 2D DCT, one bit per coefficient above the median, and the
 * image-domain quality metric. /protect uses it so a photo never has to leave the device.
 *
 * The reference computes in 32-bit floats; every intermediate here is rounded to float32
 * (Float32Array storage, Math.fround on sums) so the bits agree with the Python path
 * (moderation/media/imaging.py, the same C++ through pdqhash) up to decoder differences.
 * docs/BENCHMARKS.md records the measured agreement on Meta's reference images.
 *
 * Plain script, no build step: defines window.PDQ.
 */
(function () {
  "use strict";

  var f32 = Math.fround;
  // Below this many rows or columns the reference refuses to hash (hash 0, quality 0).
  var MIN_HASHABLE_DIM = 5;
  var JAROSZ_PASSES = 2;
  // A phone photo of 12 MP is hashed at full resolution like the server does; beyond this the
  // float buffers (8 bytes a pixel) would exhaust a phone, so the canvas shrinks it first.
  var MAX_PIXELS = 24000000;

  // 16x64 DCT-II rows 1..16 (the DC row 0 is skipped), scaled by sqrt(2/64), as floats.
  var DCT = (function () {
    var matrix = new Float32Array(16 * 64);
    var scale = Math.sqrt(2.0 / 64.0);
    for (var i = 0; i < 16; i++) {
      for (var j = 0; j < 64; j++) {
        matrix[i * 64 + j] = f32(scale) * f32(Math.cos((Math.PI / 2.0 / 64.0) * (i + 1) * (2 * j + 1)));
      }
    }
    return matrix;
  })();

  var LUMA_R = f32(0.299);
  var LUMA_G = f32(0.587);
  var LUMA_B = f32(0.114);

  /** Float luminance of RGBA pixels (alpha ignored, like the reference on RGB). */
  function luma(rgba, width, height) {
    var out = new Float32Array(width * height);
    for (var p = 0, q = 0; p < out.length; p++, q += 4) {
      out[p] = f32(f32(f32(LUMA_R * rgba[q]) + f32(LUMA_G * rgba[q + 1])) + f32(LUMA_B * rgba[q + 2]));
    }
    return out;
  }

  function windowSize(oldDimension, newDimension) {
    return Math.floor((oldDimension + 2 * newDimension - 1) / (2 * newDimension));
  }

  /** One box-filter pass of `length` values at `stride` from `start`: the reference's four
   * phases (grow the window without writing, write while growing, slide, shrink). */
  function box1D(input, output, start, length, stride, fullWindow) {
    var half = Math.floor((fullWindow + 2) / 2);
    var phase1 = half - 1;
    var phase2 = fullWindow - half + 1;
    var phase3 = length - fullWindow;
    var phase4 = half - 1;
    var li = start, ri = start, oi = start;
    var sum = 0, size = 0, i;
    for (i = 0; i < phase1; i++) {
      sum = f32(sum + input[ri]);
      size++;
      ri += stride;
    }
    for (i = 0; i < phase2; i++) {
      sum = f32(sum + input[ri]);
      size++;
      output[oi] = sum / size;
      ri += stride;
      oi += stride;
    }
    for (i = 0; i < phase3; i++) {
      sum = f32(sum + input[ri]);
      sum = f32(sum - input[li]);
      output[oi] = sum / size;
      li += stride;
      ri += stride;
      oi += stride;
    }
    for (i = 0; i < phase4; i++) {
      sum = f32(sum - input[li]);
      size--;
      output[oi] = sum / size;
      li += stride;
      oi += stride;
    }
  }

  function jarosz(buffer, temp, rows, cols, windowAlongRows, windowAlongCols) {
    for (var pass = 0; pass < JAROSZ_PASSES; pass++) {
      for (var i = 0; i < rows; i++) box1D(buffer, temp, i * cols, cols, 1, windowAlongRows);
      for (var j = 0; j < cols; j++) box1D(temp, buffer, j, rows, cols, windowAlongCols);
    }
  }

  function decimate(buffer, rows, cols) {
    var out = new Float32Array(64 * 64);
    for (var i = 0; i < 64; i++) {
      var ini = Math.floor(((i + 0.5) * rows) / 64);
      for (var j = 0; j < 64; j++) {
        var inj = Math.floor(((j + 0.5) * cols) / 64);
        out[i * 64 + j] = buffer[ini * cols + inj];
      }
    }
    return out;
  }

  /** PDQ's "featurefulness", 0-100: summed quantised gradients of the 64x64 image. */
  function quality(block) {
    var gradients = 0, i, j, d;
    for (i = 0; i < 63; i++) {
      for (j = 0; j < 64; j++) {
        d = Math.trunc(f32(f32(f32(block[i * 64 + j] - block[(i + 1) * 64 + j]) * 100) / 255));
        gradients += Math.abs(d);
      }
    }
    for (i = 0; i < 64; i++) {
      for (j = 0; j < 63; j++) {
        d = Math.trunc(f32(f32(f32(block[i * 64 + j] - block[i * 64 + j + 1]) * 100) / 255));
        gradients += Math.abs(d);
      }
    }
    return Math.min(100, Math.floor(gradients / 90));
  }

  function dct64To16(block) {
    var temp = new Float32Array(16 * 64);
    var out = new Float32Array(16 * 16);
    var i, j, k, sum;
    for (i = 0; i < 16; i++) {
      for (j = 0; j < 64; j++) {
        sum = 0;
        for (k = 0; k < 64; k++) sum = f32(sum + f32(DCT[i * 64 + k] * block[k * 64 + j]));
        temp[i * 64 + j] = sum;
      }
    }
    for (i = 0; i < 16; i++) {
      for (j = 0; j < 16; j++) {
        sum = 0;
        for (k = 0; k < 64; k++) sum = f32(sum + f32(temp[i * 64 + k] * DCT[j * 64 + k]));
        out[i * 16 + j] = sum;
      }
    }
    return out;
  }

  /** 64 hex digits: bit k (k = 16i + j) set when coefficient k exceeds the median; printed
   * most significant first, like the reference's Hash256 (word 15 first). */
  function toHex(coefficients) {
    // The reference's Torben median of 256 values is the 128th smallest.
    var sorted = Array.prototype.slice.call(coefficients).sort(function (a, b) { return a - b; });
    var median = sorted[127];
    var hex = "";
    for (var word = 15; word >= 0; word--) {
      var value = 0;
      for (var bit = 15; bit >= 0; bit--) {
        value = value * 2 + (coefficients[word * 16 + bit] > median ? 1 : 0);
      }
      hex += ("000" + value.toString(16)).slice(-4);
    }
    return hex;
  }

  /** {hash, quality} of RGBA pixels (a canvas ImageData's data). */
  function fromRGBA(rgba, width, height) {
    if (width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM) {
      return { hash: new Array(65).join("0"), quality: 0 };
    }
    var buffer = luma(rgba, width, height);
    var block;
    if (width === 64 && height === 64) {
      block = buffer;
    } else {
      var temp = new Float32Array(width * height);
      jarosz(buffer, temp, height, width, windowSize(width, 64), windowSize(height, 64));
      block = decimate(buffer, height, width);
    }
    return { hash: toHex(dct64To16(block)), quality: quality(block) };
  }

  /** Straight (not premultiplied) RGBA of a bitmap through WebGL, or null if WebGL is missing
   * or the bitmap is larger than a texture may be. A 2D canvas stores premultiplied pixels, so
   * a translucent pixel comes back with its colour rounded (a fully transparent one black),
   * while Pillow keeps the colour channels as they are; WebGL hands them over untouched. */
  function straightPixels(bitmap, width, height) {
    var canvas = document.createElement("canvas");
    var gl = canvas.getContext("webgl", { premultipliedAlpha: false });
    if (!gl) return null;
    var limit = gl.getParameter(gl.MAX_TEXTURE_SIZE);
    if (width > limit || height > limit) return null;
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
    gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);
    var texture = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, texture);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
    var framebuffer = gl.createFramebuffer();
    gl.bindFramebuffer(gl.FRAMEBUFFER, framebuffer);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, texture, 0);
    var pixels = new Uint8Array(width * height * 4);
    // Texture row 0 is the bitmap's top row and readPixels starts at row 0: no flip needed.
    gl.readPixels(0, 0, width, height, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
    var failed = gl.getError() !== gl.NO_ERROR;
    gl.deleteFramebuffer(framebuffer);
    gl.deleteTexture(texture);
    var lose = gl.getExtension("WEBGL_lose_context");
    if (lose) lose.loseContext();
    return failed ? null : pixels;
  }

  function hasTranslucency(rgba) {
    for (var i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) return true;
    return false;
  }

  /** An <img> of the file, for browsers whose createImageBitmap cannot take a Blob (or these
   * options); <img> applies EXIF orientation too (CSS image-orientation: from-image). */
  function imageOf(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file);
      var image = new Image();
      image.onload = function () {
        URL.revokeObjectURL(url);
        resolve(image);
      };
      image.onerror = function () {
        URL.revokeObjectURL(url);
        reject(new Error("the browser cannot decode this file"));
      };
      image.src = url;
    });
  }

  function bitmapOf(file) {
    var options = {
      imageOrientation: "from-image",
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
    };
    if (typeof window.createImageBitmap !== "function") return imageOf(file);
    return window.createImageBitmap(file, options).catch(function () {
      return imageOf(file);
    });
  }

  /** Decoded pixels of an image file, upright as its EXIF orientation says (as Pillow's
   * exif_transpose does on the server), without colour management (Pillow applies none).
   * Resolves to {data, width, height}; rejects if the browser cannot decode it. */
  function decode(file) {
    return bitmapOf(file).then(function (source) {
      var width = source.naturalWidth || source.width, height = source.naturalHeight || source.height;
      var scaled = width * height > MAX_PIXELS;
      if (scaled) {
        var scale = Math.sqrt(MAX_PIXELS / (width * height));
        width = Math.max(1, Math.floor(width * scale));
        height = Math.max(1, Math.floor(height * scale));
      }
      var canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      var context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(source, 0, 0, width, height);
      var pixels = context.getImageData(0, 0, width, height).data;
      canvas.width = canvas.height = 0; // let the browser free the pixels now
      if (!scaled && hasTranslucency(pixels)) pixels = straightPixels(source, width, height) || pixels;
      if (source.close) source.close();
      return { data: pixels, width: width, height: height };
    });
  }

  /** {hash, quality, width, height} of an image File or Blob. */
  function fromFile(file) {
    return decode(file).then(function (image) {
      var result = fromRGBA(image.data, image.width, image.height);
      result.width = image.width;
      result.height = image.height;
      return result;
    });
  }

  function distance(a, b) {
    var bits = 0;
    for (var i = 0; i < 64; i += 8) {
      var x = (parseInt(a.slice(i, i + 8), 16) ^ parseInt(b.slice(i, i + 8), 16)) >>> 0;
      while (x) {
        bits += x & 1;
        x >>>= 1;
      }
    }
    return bits;
  }

  window.PDQ = {
    fromRGBA: fromRGBA,
    fromFile: fromFile,
    decode: decode,
    picture: bitmapOf,
    distance: distance,
  };
})();
