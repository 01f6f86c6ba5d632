//go:build !unix

package nar

const noFollow = 0
