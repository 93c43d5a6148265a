package redisstore

import "reflect"

// SaveScriptSrc is saveScript's source (shape measurement).
func SaveScriptSrc() string {
	return reflect.ValueOf(saveScript).Elem().FieldByName("src").String()
}
