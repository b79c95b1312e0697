//go:build !race

package labs_test

const raceBuild = false
